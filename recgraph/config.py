"""One run configuration: graph views, walks, trainer, scoring and index, validated once.

A :class:`RunConfig` is everything that decides what ``recgraph train`` builds, apart from
the data: typed sections, checked when they are made, so a bad value fails before any
work. The trainer section holds every backend's settings (``trainer.gensim``,
``trainer.keras``); the chosen ``trainer.backend`` picks its own. ``RunConfig()`` is the
``showcase`` preset. Presets are TOML files in this same shape
(``recgraph/presets/*.toml``, :func:`load_preset`); :func:`resolve_config` is the one
place where a preset, a configuration file and command-line overrides become a
``RunConfig``. Every artifact's manifest records its configuration once, under ``config``
(:func:`recgraph.artifact.manifest_config` reads it), so ``recgraph train --config
manifest.json`` reproduces the run.

A configuration file is JSON or TOML with any of these sections (the rest are the
preset's)::

    preset = "tuned"          # start from a named configuration (default: showcase)
    seed = 1
    [[graph]]                 # one table per graph view, the primary view first
    min_rating = 5.0
    min_weight = 10.0
    [walks]
    num_walks = 40
    [trainer]
    backend = "gensim"
    [trainer.gensim]          # each backend's hyperparameters in its own table
    dim = 64
    [trainer.keras]
    epochs = 5
    [scoring]
    popularity_weight = 0.15
    [index]
    n_trees = 50
    [data]                    # the log, when no --data is given (or data = "path")
    source = "clicks.parquet"
    user_col = "user"         # recgraph.data.load_log options: user_col, item_col,
    item_col = "item"         # rating_col, time_col, items (command-line flags win)
    time_col = "ts"

>>> config = resolve_config(preset="tuned", backend="keras", trainer={"epochs": 3})
>>> config.views[0].min_rating, config.trainer.params["epochs"]
(5.0, 3)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import ParameterError
from .presets import DEFAULT_PRESET, available_presets, preset_text
from .scoring import ScoringOptions
from .seeds import check_seed
from .trainers import available_trainers
from .validation import check_float, check_int, check_positive
from .walks import DEFAULT_NUM_WALKS, DEFAULT_P, DEFAULT_Q, DEFAULT_WALK_LENGTH

DEFAULT_BACKEND = "gensim"
DEFAULT_N_TREES = 50
#: The run seed when none is given: every command and ``RunConfig()`` are repeatable by default.
DEFAULT_SEED = 0
#: Trainer parameters a configuration never records: the run's seed and the progress
#: switch decide them (the trainer's seed is derived from the run's, see recgraph.seeds).
RUN_LEVEL_TRAINER_PARAMS = ("seed", "show_progress")


@dataclass(frozen=True)
class GraphParams:
    """How one graph view is built (:func:`recgraph.graph.build_item_graph`)."""

    min_rating: float = 5.0
    min_weight: float = 10.0
    min_item_users: int = 0
    max_degree: int | None = None
    max_user_items: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "min_rating", check_float("min_rating", self.min_rating))
        object.__setattr__(self, "min_weight", check_float("min_weight", self.min_weight))
        object.__setattr__(self, "min_item_users", check_int("min_item_users", self.min_item_users, low=0))
        for name in ("max_degree", "max_user_items"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_int(name, value, low=1))

    def to_dict(self) -> dict:
        """The fields as a manifest records them; a cap that is off (None) is left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def build_kwargs(self) -> dict:
        """Keyword arguments for :func:`recgraph.graph.build_item_graph` (a cap only when set)."""
        return self.to_dict()


@dataclass(frozen=True)
class WalkParams:
    """How every view is walked (:func:`recgraph.walks.node2vec_walks`)."""

    num_walks: int = DEFAULT_NUM_WALKS
    walk_length: int = DEFAULT_WALK_LENGTH
    p: float = DEFAULT_P
    q: float = DEFAULT_Q
    #: The walk budget: at most this many walks per graph view in all, so a big graph gets
    #: fewer walks per node (never under one) and the corpus stops growing with the log.
    #: None: ``num_walks`` per node whatever the graph's size.
    max_walks: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "num_walks", check_int("num_walks", self.num_walks))
        object.__setattr__(self, "walk_length", check_int("walk_length", self.walk_length))
        object.__setattr__(self, "p", check_positive("p", self.p))
        object.__setattr__(self, "q", check_positive("q", self.q))
        if self.max_walks is not None:
            object.__setattr__(self, "max_walks", check_int("max_walks", self.max_walks))

    def walks_per_node(self, num_nodes: int) -> int:
        """``num_walks``, lowered so ``walks_per_node * num_nodes <= max_walks`` (at least 1)."""
        if self.max_walks is None or num_nodes <= 0:
            return self.num_walks
        return max(1, min(self.num_walks, self.max_walks // num_nodes))

    def to_dict(self) -> dict:
        """Every field; ``max_walks`` only when set (so manifests of unbudgeted runs keep their shape)."""
        out = asdict(self)
        if out["max_walks"] is None:
            del out["max_walks"]
        return out




@dataclass(frozen=True)
class GensimParams:
    """The gensim backend's hyperparameters (:class:`recgraph.trainers.gensim_backend.GensimTrainer`;
    why these defaults: ``docs/defaults.md``). ``workers`` None: one thread below 250,000 walk
    tokens, every core above."""

    dim: int = 50
    window: int = 5
    negative: int = 1
    epochs: int = 8
    sample: float = 0.0
    ns_exponent: float = 0.25
    alpha: float = 0.05
    min_alpha: float = 0.0001
    vectors: str = "both"
    workers: int | None = None

    def __post_init__(self):
        for name in ("dim", "window", "negative", "epochs"):
            object.__setattr__(self, name, check_int(name, getattr(self, name)))
        for name in ("sample", "ns_exponent", "min_alpha"):
            object.__setattr__(self, name, check_float(name, getattr(self, name), low=0.0 if name != "ns_exponent" else None))
        object.__setattr__(self, "alpha", check_positive("alpha", self.alpha))
        if self.vectors not in ("input", "output", "both"):
            raise ParameterError(f"vectors must be 'input', 'output' or 'both'; got {self.vectors!r}.")
        if self.workers is not None:
            object.__setattr__(self, "workers", check_int("workers", self.workers))


@dataclass(frozen=True)
class KerasParams:
    """The keras backend's hyperparameters (:class:`recgraph.trainers.keras_backend.KerasTrainer`):
    the Keras example's model and settings by default."""

    dim: int = 50
    window: int = 10
    negative: int = 4
    epochs: int = 10
    batch_size: int = 1024
    learning_rate: float = 0.001
    #: False: the document's aggregation (a pair that co-occurs in a walk never keeps a
    #: negative draw); True: another published version's (docs/keras_backend.md).
    keep_cooccurring_negatives: bool = False

    def __post_init__(self):
        for name in ("dim", "window", "negative", "epochs", "batch_size"):
            object.__setattr__(self, name, check_int(name, getattr(self, name)))
        object.__setattr__(self, "learning_rate", check_positive("learning_rate", self.learning_rate))
        if not isinstance(self.keep_cooccurring_negatives, bool):
            raise ParameterError("keep_cooccurring_negatives must be true or false; "
                                 f"got {self.keep_cooccurring_negatives!r}.")


#: Backend name -> the typed section of its hyperparameters (one per registered trainer).
BACKEND_SECTIONS: dict[str, type] = {"gensim": GensimParams, "keras": KerasParams}


@dataclass(frozen=True)
class TrainerConfig:
    """The chosen backend and every backend's hyperparameters, each in its own typed section;
    the backend trains with its own (:attr:`params`)."""

    backend: str = DEFAULT_BACKEND
    gensim: GensimParams = field(default_factory=GensimParams)
    keras: KerasParams = field(default_factory=KerasParams)

    def __post_init__(self):
        if self.backend not in available_trainers():
            raise ParameterError(f"Unknown backend {self.backend!r}; available: {', '.join(available_trainers())}.")
        for name, cls in BACKEND_SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ParameterError(f"trainer.{name} must be a {cls.__name__}; got {getattr(self, name)!r}.")

    def section(self, backend: str | None = None):
        """The typed section of ``backend`` (default: the chosen one)."""
        return getattr(self, backend or self.backend)

    @property
    def params(self) -> dict:
        """The chosen backend's hyperparameters, as keyword arguments for its trainer."""
        return asdict(self.section())

    def with_backend(self, backend: str) -> "TrainerConfig":
        """The same sections, ``backend`` chosen."""
        return replace(self, backend=backend)

    def updated(self, changes: Mapping[str, Any]) -> "TrainerConfig":
        """Set each field of ``changes`` in every backend's section that has it. A field the chosen
        backend lacks is an error (``--vectors`` with keras): it would change nothing that runs."""
        changes = dict(changes)
        if not changes:
            return self
        own = {f.name for f in fields(BACKEND_SECTIONS[self.backend])}
        foreign = sorted(set(changes) - own)
        if foreign:
            raise ParameterError(f"The {self.backend} backend has no setting {', '.join(foreign)}; "
                                 f"its settings are {', '.join(sorted(own))}.")
        new = {}
        for name, cls in BACKEND_SECTIONS.items():
            names = {f.name for f in fields(cls)}
            mine = {k: v for k, v in changes.items() if k in names}
            if mine:
                new[name] = replace(getattr(self, name), **mine)
        return replace(self, **new)

    def to_dict(self) -> dict:
        return {"backend": self.backend, **{name: asdict(getattr(self, name)) for name in BACKEND_SECTIONS}}


@dataclass(frozen=True)
class IndexConfig:
    """How the Annoy index is built."""

    n_trees: int = DEFAULT_N_TREES

    def __post_init__(self):
        object.__setattr__(self, "n_trees", check_int("n_trees", self.n_trees))

    def to_dict(self) -> dict:
        return asdict(self)


SECTIONS = ("preset", "seed", "graph", "walks", "trainer", "scoring", "index")
#: The fields of a configuration's ``data`` section: the log's source and the
#: :func:`recgraph.data.load_log` options that read it (column names, items table).
DATA_FIELDS = ("source", "user_col", "item_col", "rating_col", "time_col", "items")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a trained artifact, apart from the data.

    ``RunConfig()`` is the ``showcase`` preset (:func:`load_preset`), seed 0. ``graph`` holds
    one :class:`GraphParams` per graph view, the primary view first (:mod:`recgraph.corpus`
    says how several views are combined). ``preset`` names the preset it started from (a
    label; the sections are what counts).
    """

    graph: tuple[GraphParams, ...] = (GraphParams(),)
    walks: WalkParams = field(default_factory=WalkParams)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    index: IndexConfig = field(default_factory=IndexConfig)
    seed: int | None = DEFAULT_SEED
    preset: str | None = DEFAULT_PRESET

    def __post_init__(self):
        views = (self.graph,) if isinstance(self.graph, GraphParams) else tuple(self.graph)
        if not views or not all(isinstance(v, GraphParams) for v in views):
            raise ParameterError("A configuration needs at least one graph view (GraphParams).")
        object.__setattr__(self, "graph", views)
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "scoring", ScoringOptions.from_value(self.scoring))
        for name, cls in (("walks", WalkParams), ("trainer", TrainerConfig), ("index", IndexConfig)):
            if not isinstance(getattr(self, name), cls):
                raise ParameterError(f"{name} must be a {cls.__name__}; got {getattr(self, name)!r}.")

    @property
    def views(self) -> tuple[GraphParams, ...]:
        """Every graph view's parameters, the primary one first."""
        return self.graph

    @property
    def backend(self) -> str:
        return self.trainer.backend

    def replace(self, **changes) -> "RunConfig":
        """A copy with ``changes`` (whole sections), validated again."""
        return replace(self, **changes)

    def with_backend(self, backend: str) -> "RunConfig":
        """The same configuration with ``backend`` chosen (its own trainer section)."""
        return replace(self, trainer=self.trainer.with_backend(backend))

    def to_dict(self) -> dict:
        """JSON-ready; :meth:`from_dict` reads it back to an equal configuration."""
        return {"preset": self.preset, "seed": self.seed, "graph": [v.to_dict() for v in self.graph],
                "walks": self.walks.to_dict(), "trainer": self.trainer.to_dict(),
                "scoring": self.scoring.to_dict(), "index": self.index.to_dict()}

    @classmethod
    def from_dict(cls, payload: Mapping) -> "RunConfig":
        """A configuration from :meth:`to_dict`'s shape; missing sections and fields are
        ``RunConfig()``'s (the showcase preset's). ``preset`` is kept as a label only: use
        :func:`resolve_config` to start from the preset a file names."""
        return _apply(cls(), payload)

    @classmethod
    def from_manifest(cls, manifest: Mapping) -> "RunConfig":
        """The configuration an artifact was trained with (any manifest format,
        :func:`recgraph.artifact.manifest_config`), starting from the preset it names."""
        from .artifact import manifest_config

        return resolve_config(base=manifest_config(manifest))


# ---------------------------------------------------------------------- presets
def load_preset(name: str) -> RunConfig:
    """Preset ``name`` (``recgraph/presets/<name>.toml``) as a configuration."""
    return _apply(RunConfig(), {**parse_toml(preset_text(name), f"preset {name}"), "preset": name})


def resolve_config(preset: str | None = None, backend: str | None = None, base: RunConfig | Mapping | None = None,
                   graph: Mapping | None = None, walks: Mapping | None = None, trainer: Mapping | None = None,
                   scoring: Mapping | None = None, n_trees: int | None = None, seed: int | None = None,
                   one_view: bool = False) -> RunConfig:
    """The one place where a run's configuration is put together, lowest priority first:

    1. preset ``preset``, else the one ``base`` names, else ``showcase`` (the default);
    2. ``base``: a configuration, or a file's sections (:func:`load_config`);
    3. the overrides: ``backend`` chooses the trainer (its own section), ``graph`` changes
       the primary graph view, ``one_view`` drops the others, ``walks`` / ``scoring``
       change those fields, ``trainer`` fields change every backend section that has them
       (the chosen backend must), ``n_trees`` and ``seed`` (None: not given) theirs.
    """
    payload = base.to_dict() if isinstance(base, RunConfig) else dict(_table("configuration", base or {}))
    name = preset or payload.get("preset") or DEFAULT_PRESET
    if name not in available_presets():
        raise ParameterError(f"Unknown preset {name!r}; available: {', '.join(available_presets())}.")
    payload.pop("data", None)
    payload["preset"] = name
    config = _apply(load_preset(name), payload)
    views = config.views[:1] if one_view else config.views
    if graph:
        views = (_section(GraphParams, "graph", {**asdict(views[0]), **graph}), *views[1:])
    changes: dict[str, Any] = {"graph": views}
    if backend is not None:
        changes["trainer"] = _trainer(config.trainer, {"backend": backend})
    if trainer:
        changes["trainer"] = changes.get("trainer", config.trainer).updated(trainer)
    if walks:
        changes["walks"] = _section(WalkParams, "walks", {**config.walks.to_dict(), **walks})
    if scoring:
        changes["scoring"] = ScoringOptions.from_value({**config.scoring.to_dict(), **scoring})
    if n_trees is not None:
        changes["index"] = IndexConfig(n_trees)
    if seed is not None:
        changes["seed"] = seed
    return config.replace(**changes)


def _trainer(current: TrainerConfig, section: Mapping) -> TrainerConfig:
    """``current`` with a file's trainer section applied (each backend table over its own)."""
    if "params" in section:
        raise ParameterError("[trainer.params] was replaced in recgraph 0.2 by one table per backend; "
                             f"put the hyperparameters under {' or '.join(f'[trainer.{b}]' for b in BACKEND_SECTIONS)}.")
    valid = ("backend", *BACKEND_SECTIONS)
    extra = sorted(set(section) - set(valid))
    if extra:
        raise ParameterError(f"Unknown trainer field(s) {', '.join(extra)}; valid: {', '.join(valid)} "
                             "(hyperparameters go under [trainer.<backend>]).")
    changes: dict[str, Any] = {}
    if section.get("backend") is not None:
        if section["backend"] not in available_trainers():
            raise ParameterError(f"Unknown backend {section['backend']!r}; "
                                 f"available: {', '.join(available_trainers())}.")
        changes["backend"] = section["backend"]
    for name, cls in BACKEND_SECTIONS.items():
        if section.get(name) is not None:
            values = {k: v for k, v in _table(f"trainer.{name}", section[name]).items()
                      if k not in RUN_LEVEL_TRAINER_PARAMS}
            changes[name] = _section(cls, f"trainer.{name}", {**asdict(getattr(current, name)), **values})
    return replace(current, **changes)


def _apply(config: RunConfig, payload: Mapping) -> RunConfig:
    """``config`` with the sections ``payload`` gives (a section's missing fields keep ``config``'s)."""
    if not isinstance(payload, Mapping):
        raise ParameterError(f"A configuration must be a table of sections; got {type(payload).__name__}.")
    unknown = sorted(set(payload) - set(SECTIONS) - {"data"})
    if unknown:
        raise ParameterError(f"Unknown configuration section(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(SECTIONS)}, data.")
    changes: dict = {}
    if payload.get("graph") is not None:
        views = payload["graph"]
        views = [views] if isinstance(views, Mapping) else list(views)
        changes["graph"] = tuple(_section(GraphParams, "graph", v) for v in views)
    if payload.get("walks") is not None:
        changes["walks"] = _section(WalkParams, "walks", {**config.walks.to_dict(), **_table("walks", payload["walks"])})
    if payload.get("trainer") is not None:
        changes["trainer"] = _trainer(config.trainer, _table("trainer", payload["trainer"]))
    if payload.get("scoring") is not None:
        changes["scoring"] = ScoringOptions.from_value({**config.scoring.to_dict(), **_table("scoring", payload["scoring"])})
    if payload.get("index") is not None:
        changes["index"] = _section(IndexConfig, "index", {**config.index.to_dict(), **_table("index", payload["index"])})
    for key in ("seed", "preset"):
        if key in payload:
            changes[key] = payload[key]
    return config.replace(**changes) if changes else config


def _table(name: str, value) -> dict:
    if not isinstance(value, Mapping):
        raise ParameterError(f"The {name} section must be a table of name = value; got {value!r}.")
    return dict(value)


def _section(cls, name: str, value):
    """``cls(**value)`` with an unknown field named in one sentence."""
    value = _table(name, value)
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(value) - set(valid))
    if unknown:
        raise ParameterError(f"Unknown {name} field(s) {', '.join(unknown)}; valid: {', '.join(valid)}.")
    return cls(**value)


# ---------------------------------------------------------------------- files
def load_config(path: str | Path) -> dict:
    """A configuration file's sections, for :func:`resolve_config`'s ``base``.

    ``path`` is a TOML (``.toml``) or JSON file in :meth:`RunConfig.to_dict`'s shape, or an
    artifact's ``manifest.json`` (its ``config``; older artifacts: rebuilt from ``params``).
    The sections may also hold ``data``: the log the run read, as a source string or a table
    of :data:`DATA_FIELDS` (a manifest's ``data.source``, ``data.columns`` and
    ``data.items_table``); :func:`data_section` reads it.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "manifest.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ParameterError(f"Configuration file {path} does not exist.") from None
    if path.suffix.lower() == ".toml":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParameterError(f"Configuration file {path} is not valid TOML: {exc}.") from None
        payload = parse_toml(text, f"Configuration file {path}")
    else:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParameterError(f"Configuration file {path} is not valid JSON (or TOML, named .toml): {exc}.") from None
    if not isinstance(payload, dict):
        raise ParameterError(f"Configuration file {path} must hold a table of sections.")
    if "format_version" in payload and "files" in payload:  # an artifact manifest
        return config_from_manifest(payload)
    return payload


def parse_toml(text: str, what: str) -> dict:
    """TOML ``text`` as a dict; ``what`` names it in the one-sentence error."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, packaged as tomli
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{what} is not valid TOML: {exc}.") from None


def config_from_manifest(manifest: Mapping) -> dict:
    """The configuration an artifact was trained with (:func:`recgraph.artifact.manifest_config`,
    any format), plus the log it read as a ``data`` section, as :func:`load_config` returns it."""
    from .artifact import manifest_config

    sections = manifest_config(manifest)
    data = manifest.get("data") or {}
    source = data.get("source")
    options = {k: v for k, v in (data.get("columns") or {}).items() if k in DATA_FIELDS}
    if data.get("items_table"):
        options["items"] = data["items_table"]
    if source and options:
        sections["data"] = {"source": source, **options}
    elif source:
        sections["data"] = source
    return sections


def data_section(value) -> tuple[str | None, dict]:
    """A configuration's ``data`` (a source string, a table of :data:`DATA_FIELDS`, or None)
    as ``(source, load_log options)``; an unknown field is one sentence."""
    if value is None or isinstance(value, str):
        return value, {}
    table = _table("data", value)
    unknown = sorted(set(table) - set(DATA_FIELDS))
    if unknown:
        raise ParameterError(f"Unknown data field(s) {', '.join(unknown)}; valid: {', '.join(DATA_FIELDS)}.")
    for name, text in table.items():
        if text is not None and not isinstance(text, str):
            raise ParameterError(f"data.{name} must be a string (a path or a column name); got {text!r}.")
    options = {k: v for k, v in table.items() if k != "source"}
    return table.get("source"), options
