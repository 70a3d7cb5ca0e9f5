"""One run configuration: graph views, walks, trainer, scoring and index, validated once.

A :class:`RunConfig` is everything that decides what ``recgraph train`` builds, apart from
the data: typed sections whose defaults live here (and in the stage modules they mirror),
checked when they are made, so a bad value fails before any work. Presets
(:mod:`recgraph.presets`) are named configurations; :func:`resolve_config` is the one
place where a preset, a configuration file and command-line overrides become a
``RunConfig``. Every artifact's manifest records its configuration whole under
``config``, so ``recgraph train --config manifest.json`` reproduces the run.

A configuration file is JSON or TOML with any of these sections (the rest are the
preset's or the defaults)::

    preset = "tuned"          # start from a named configuration (optional)
    seed = 1
    [[graph]]                 # one table per graph view, the primary view first
    min_rating = 5.0
    min_weight = 10.0
    [walks]
    num_walks = 40
    [trainer]
    backend = "gensim"
    [trainer.params]
    dim = 64
    [scoring]
    popularity_weight = 0.15
    [index]
    n_trees = 50
    [data]                    # the log, when no --data is given (or data = "path")
    source = "clicks.parquet"
    user_col = "user"         # recgraph.data.load_log options: user_col, item_col,
    item_col = "item"         # rating_col, time_col, items (command-line flags win)

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
from .presets import available_presets, get_preset
from .scoring import ScoringOptions
from .seeds import check_seed
from .trainers import available_trainers
from .validation import check_float, check_int, check_positive
from .walks import DEFAULT_NUM_WALKS, DEFAULT_P, DEFAULT_Q, DEFAULT_WALK_LENGTH

DEFAULT_BACKEND = "gensim"
DEFAULT_N_TREES = 50
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

    def __post_init__(self):
        object.__setattr__(self, "num_walks", check_int("num_walks", self.num_walks))
        object.__setattr__(self, "walk_length", check_int("walk_length", self.walk_length))
        object.__setattr__(self, "p", check_positive("p", self.p))
        object.__setattr__(self, "q", check_positive("q", self.q))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainerConfig:
    """The trainer backend and its keyword hyperparameters (the backend's defaults for the rest;
    the backend checks them when it is created)."""

    backend: str = DEFAULT_BACKEND
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.backend not in available_trainers():
            raise ParameterError(f"Unknown backend {self.backend!r}; available: {', '.join(available_trainers())}.")
        if not isinstance(self.params, Mapping):
            raise ParameterError(f"trainer params must be a table of name = value; got {self.params!r}.")
        object.__setattr__(self, "params", dict(self.params))

    def to_dict(self) -> dict:
        return {"backend": self.backend, "params": dict(self.params)}


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

    ``graph`` holds one :class:`GraphParams` per graph view, the primary view first
    (:mod:`recgraph.corpus` says how several views are combined). ``preset`` names the
    configuration it started from (a label; the sections are what counts).
    """

    graph: tuple[GraphParams, ...] = (GraphParams(),)
    walks: WalkParams = field(default_factory=WalkParams)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    index: IndexConfig = field(default_factory=IndexConfig)
    seed: int | None = None
    preset: str | None = None

    def __post_init__(self):
        views = (self.graph,) if isinstance(self.graph, GraphParams) else tuple(self.graph)
        if not views or not all(isinstance(v, GraphParams) for v in views):
            raise ParameterError("A configuration needs at least one graph view (GraphParams).")
        object.__setattr__(self, "graph", views)
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "scoring", ScoringOptions.from_value(self.scoring))

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

    def to_dict(self) -> dict:
        """JSON-ready; :meth:`from_dict` reads it back to an equal configuration."""
        return {"preset": self.preset, "seed": self.seed, "graph": [v.to_dict() for v in self.graph],
                "walks": self.walks.to_dict(), "trainer": self.trainer.to_dict(),
                "scoring": self.scoring.to_dict(), "index": self.index.to_dict()}

    @classmethod
    def from_dict(cls, payload: Mapping) -> "RunConfig":
        """A configuration from :meth:`to_dict`'s shape; missing sections get the defaults."""
        return _apply(cls(), payload)


# ---------------------------------------------------------------------- presets
def preset_config(name: str, backend: str | None = None) -> RunConfig:
    """Preset ``name`` (:data:`recgraph.presets.PRESETS`) as a configuration for ``backend``
    (default gensim): the preset's shared trainer values plus that backend's own."""
    preset = get_preset(name)
    backend = backend or DEFAULT_BACKEND
    trainer = {**preset["trainer"], **preset.get("backend_trainer", {}).get(backend, {})}
    views = [preset["graph"], *preset.get("extra_views", ())]
    return RunConfig(graph=tuple(_section(GraphParams, "graph", v) for v in views),
                     walks=_section(WalkParams, "walks", preset["walks"]),
                     trainer=TrainerConfig(backend, trainer),
                     scoring=ScoringOptions.from_value(preset["scoring"]), preset=name)


def resolve_config(preset: str | None = None, backend: str | None = None, base: RunConfig | Mapping | None = None,
                   graph: Mapping | None = None, walks: Mapping | None = None, trainer: Mapping | None = None,
                   scoring: Mapping | None = None, n_trees: int | None = None, seed: int | None = None,
                   one_view: bool = False) -> RunConfig:
    """The one place where a run's configuration is put together, lowest priority first:

    1. the defaults, or preset ``preset`` (or the one ``base`` names) for the backend;
    2. ``base``: a configuration, or a file's sections (:func:`load_config`);
    3. the overrides: ``graph`` changes the primary graph view, ``one_view`` drops the
       others, ``walks`` / ``trainer`` / ``scoring`` change those fields, ``n_trees``
       and ``seed`` (None: not given) theirs.

    ``backend`` None keeps ``base``'s backend (else gensim). A base's trainer parameters
    are kept only for its own backend: another backend starts from the preset's.
    """
    payload = base.to_dict() if isinstance(base, RunConfig) else dict(base or {})
    unknown = sorted(set(payload) - set(SECTIONS) - {"data"})
    if unknown:
        raise ParameterError(f"Unknown configuration section(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(SECTIONS)}.")
    base_trainer = payload.get("trainer") or {}
    if not isinstance(base_trainer, Mapping):
        raise ParameterError(f"The trainer section must be a table; got {base_trainer!r}.")
    base_backend = base_trainer.get("backend")
    backend = backend or base_backend or DEFAULT_BACKEND
    if base_backend is not None and base_backend != backend:
        payload["trainer"] = {"backend": backend}
    name = preset or payload.get("preset")
    if name is not None and name not in available_presets():
        raise ParameterError(f"Unknown preset {name!r}; available: {', '.join(available_presets())}.")
    config = preset_config(name, backend) if name else RunConfig(trainer=TrainerConfig(backend))
    payload.pop("data", None)
    payload["preset"] = name
    config = _apply(config, payload)
    views = config.views[:1] if one_view else config.views
    if graph:
        views = (_section(GraphParams, "graph", {**asdict(views[0]), **graph}), *views[1:])
    changes = {"graph": views}
    if walks:
        changes["walks"] = _section(WalkParams, "walks", {**config.walks.to_dict(), **walks})
    if trainer:
        changes["trainer"] = TrainerConfig(backend, {**config.trainer.params, **trainer})
    if scoring:
        changes["scoring"] = ScoringOptions.from_value({**config.scoring.to_dict(), **scoring})
    if n_trees is not None:
        changes["index"] = IndexConfig(n_trees)
    if seed is not None:
        changes["seed"] = seed
    return config.replace(**changes)


def _apply(config: RunConfig, payload: Mapping) -> RunConfig:
    """``config`` with the sections ``payload`` gives (a section's missing fields keep ``config``'s)."""
    if not isinstance(payload, Mapping):
        raise ParameterError(f"A configuration must be a table of sections; got {type(payload).__name__}.")
    unknown = sorted(set(payload) - set(SECTIONS))
    if unknown:
        raise ParameterError(f"Unknown configuration section(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(SECTIONS)}.")
    changes: dict = {}
    if payload.get("graph") is not None:
        views = payload["graph"]
        views = [views] if isinstance(views, Mapping) else list(views)
        changes["graph"] = tuple(_section(GraphParams, "graph", v) for v in views)
    if payload.get("walks") is not None:
        changes["walks"] = _section(WalkParams, "walks", {**config.walks.to_dict(), **_table("walks", payload["walks"])})
    if payload.get("trainer") is not None:
        section = _table("trainer", payload["trainer"])
        extra = sorted(set(section) - {"backend", "params"})
        if extra:
            raise ParameterError(f"Unknown trainer field(s) {', '.join(extra)}; valid: backend, params "
                                 "(hyperparameters go under [trainer.params]).")
        backend = section.get("backend", config.trainer.backend)
        params = dict(config.trainer.params) if backend == config.trainer.backend else {}
        params.update(_table("trainer.params", section.get("params") or {}))
        changes["trainer"] = TrainerConfig(backend, {k: v for k, v in params.items()
                                                     if k not in RUN_LEVEL_TRAINER_PARAMS})
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
        import tomllib

        try:
            payload = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ParameterError(f"Configuration file {path} is not valid TOML: {exc}.") from None
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


def config_from_manifest(manifest: Mapping) -> dict:
    """The configuration an artifact was trained with, as :func:`load_config` returns it."""
    if isinstance(manifest.get("config"), Mapping):
        sections = dict(manifest["config"])
    else:  # written before the manifest recorded its configuration
        params = manifest.get("params", {})
        trainer = {k: v for k, v in params.get("trainer", {}).items() if k not in RUN_LEVEL_TRAINER_PARAMS}
        sections = {"preset": manifest.get("preset"), "seed": manifest.get("seed"),
                    "graph": params.get("views") or [params.get("graph", {})], "walks": params.get("walks"),
                    "trainer": {"backend": manifest.get("backend", DEFAULT_BACKEND), "params": trainer},
                    "scoring": manifest.get("scoring"),
                    "index": {"n_trees": params.get("n_trees", manifest.get("n_trees", DEFAULT_N_TREES))}}
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
