"""The main job: ratings -> graph -> walks -> embeddings -> artifact, with timings.

:func:`train` is the one training path: ``recgraph train``, ``recgraph compare`` and
``recgraph evaluate`` all go through it (compare through :func:`train_on_corpus`, to
train several backends on one corpus), so every artifact's manifest has the same shape.
:func:`build_graph_dir` is the graph stage alone (``recgraph graph``); ``train(graph=DIR)``
starts from its output.

>>> result = train("ml-latest-small.zip", "artifacts/ml", config=resolve_config(preset="tuned", seed=1))
>>> build_graph_dir("ml-latest-small.zip", "graphs/ml", resolve_config(preset="tuned"))
>>> result = train(None, "artifacts/ml", config=resolve_config(preset="tuned", seed=1), graph="graphs/ml")
>>> result = train("clicks.parquet", "artifacts/clicks", config=resolve_config(preset="tuned"),
...                log={"user_col": "user", "item_col": "item", "time_col": "ts"})  # implicit: no rating column
"""

from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np

from .artifact import check_output_dir, write_artifact
from .catalog import ItemCatalog
from .config import GraphParams, RunConfig, WalkParams
from .corpus import WalkCorpus, build_graphs, fit_embeddings, walk_graphs
from .data import Ratings
from .errors import ParameterError
from .graph import ItemGraph
from .log_source import data_summary, load_log_source
from .seeds import stage_seeds
from . import trainers

logger = logging.getLogger(__name__)

__all__ = ["SHOWCASE_TITLES", "GraphParams", "WalkParams", "TrainResult", "TrainingInputs", "build_graph_dir",
           "data_summary", "load_inputs", "load_log_source", "loss_curves", "stage_seeds", "train", "train_on_corpus"]

#: The Keras example's query movies (Titanic instead of The Matrix, as the brief asks).
SHOWCASE_TITLES = (
    "Titanic (1997)",
    "Star Wars: Episode IV - A New Hope (1977)",
    "Lion King, The (1994)",
    "Terminator 2: Judgment Day (1991)",
    "Godfather, The (1972)",
)


@dataclass
class TrainResult:
    """What :func:`train` produced: the artifact manifest and the in-memory pieces.

    ``graph`` and ``walks`` are the primary view's; ``corpus`` holds every view.
    """

    manifest: dict
    graph: ItemGraph
    walks: np.ndarray
    embeddings: np.ndarray
    out_dir: Path | None
    timings_s: dict = field(default_factory=dict)
    corpus: WalkCorpus | None = None
    config: RunConfig | None = None
    items: ItemCatalog | None = None
    #: The "blend" scoring's fitted user model (:mod:`recgraph.user_model`), else None.
    user_model: dict | None = None



@dataclass(frozen=True, eq=False)
class TrainingInputs:
    """What training needs besides the configuration: the walk corpus, every item of the log,
    and the record of where it came from (the manifest's ``data``)."""

    #: None when the graphs are built later, from the part of the log a search leaves for
    #: training (see :func:`load_inputs`' ``build``).
    corpus: WalkCorpus | None
    items: ItemCatalog
    data: dict
    timings_s: dict = field(default_factory=dict)
    #: The log itself (None when the graph was read from a graph directory): the "blend"
    #: scoring's user model learns from its interactions.
    ratings: Ratings | None = None


class _Stopwatch:
    def __init__(self, before: dict | None = None):
        self.timings: dict[str, float] = dict(before or {})
        # Stages timed before this call (e.g. a corpus shared by several backends) count in the total.
        self._start = time.perf_counter() - sum(self.timings.values())

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(now - since, 4)
        return now

    def total(self) -> None:
        self.timings["total"] = round(time.perf_counter() - self._start, 4)




def load_inputs(data: str | Path | Ratings | None, config: RunConfig, graph: str | os.PathLike | None = None,
                timings: dict | None = None, on_loaded=None, log: Mapping | None = None,
                build: bool = True) -> tuple[TrainingInputs, RunConfig]:
    """Build (or, with ``graph``, read) every view's graph and walk it with ``config``'s walk seed.

    With ``build`` false (and no ``graph``) the log is read and nothing is built: the corpus is
    None, for :func:`train` to build once the blend's search has said from which part of the log.

    ``data`` and ``log`` are read by :func:`load_log_source`. With ``graph`` (a graph
    directory) the views are the directory's: the returned configuration has its ``graph`` section. ``timings`` receives ``load``, ``graph`` and
    ``walks`` seconds; ``on_loaded`` (no arguments) is called once the data is read.
    """
    timings = {} if timings is None else timings
    walk_seed = stage_seeds(config.seed).walks
    t = time.perf_counter()
    if graph is not None:
        from .graph_store import read_graph_dir

        stored = read_graph_dir(graph)
        timings["load"] = round(time.perf_counter() - t, 4)
        if on_loaded:
            on_loaded()
        graphs, items = stored.graphs, stored.items
        record = {**stored.data, "graph_dir": str(stored.path)}
        if stored.views != config.views:
            logger.info("training on the graph directory's %d view(s), not the configuration's", len(stored.views))
        config = config.replace(graph=stored.views)
    else:
        ratings = load_log_source(data, log)
        t = _lap(timings, "load", t)
        if ratings.load_s is not None:  # read before the run started (e.g. by the command, to check it)
            timings["load"] = max(timings["load"], ratings.load_s)
        if on_loaded:
            on_loaded()
        items = ItemCatalog.from_ratings(ratings)
        record = data_summary(ratings, log)
        if not build:
            return TrainingInputs(None, items, record, dict(timings), ratings), config
        graphs = build_graphs(ratings, config.views)
        _lap(timings, "graph", t)
    corpus = walk_graphs(graphs, config.views, config.walks, seed=walk_seed, timings=timings)
    return TrainingInputs(corpus, items, record, dict(timings), None if graph is not None else ratings), config


def build_corpus(ratings: Ratings, config: RunConfig, timings: dict | None = None) -> WalkCorpus:
    """Every view's graph of ``ratings``, walked with ``config``'s walk seed (the ``graph`` and
    ``walks`` stages of :func:`load_inputs`)."""
    t = time.perf_counter()
    graphs = build_graphs(ratings, config.views)
    if timings is not None:
        _lap(timings, "graph", t)
    return walk_graphs(graphs, config.views, config.walks, seed=stage_seeds(config.seed).walks, timings=timings)


def _lap(timings: dict, name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - since, 4)
    return now


def train(
    data: str | Path | Ratings | None,
    out_dir: str | Path | None,
    config: RunConfig | None = None,
    *,
    graph: str | os.PathLike | None = None,
    log: Mapping | None = None,
    show_progress: bool = True,
    extra_manifest: dict | None = None,
) -> TrainResult:
    """Run the whole pipeline and (when ``out_dir`` is given) write the artifact atomically.

    Parameters
    ----------
    data : a log for :func:`recgraph.data.load`: a CSV or Parquet file, a directory of
        parts, a pandas DataFrame, a MovieLens directory, zip or URL (None: ml-latest-small;
        with ``graph``: unused), or loaded :class:`Ratings`.
    out_dir : artifact directory; checked before any work so a bad target fails fast.
    config : the run's :class:`~recgraph.config.RunConfig` (see
        :func:`recgraph.config.resolve_config`); None: ``RunConfig()``, the ``showcase``
        preset with seed 0.
    graph : a graph directory (``recgraph graph``) to walk instead of building the graph
        from ``data``; its views replace the configuration's.
    log : :func:`recgraph.data.load_log` options for ``data``: ``user_col``, ``item_col``,
        ``rating_col``, ``time_col`` (MovieLens names by default; a log without a rating
        column is implicit feedback) and ``items`` (an items table). Recorded in the
        manifest's ``data`` (``columns``, ``items_table``).

    The artifact always gets each item's likes (items.csv) and the most liked items
    (popular.csv) from the log.
    """
    config = RunConfig() if config is None else config
    if not isinstance(config, RunConfig):
        raise ParameterError(f"config must be a RunConfig (see recgraph.config.resolve_config); got {config!r}.")
    if out_dir is not None:
        out_dir = check_output_dir(out_dir)
    if graph is not None and config.scoring.method == "blend":
        raise ParameterError("Scoring method 'blend' learns from the log's interactions, and a graph directory "
                             "holds none; train with --data (or scoring method 'cosine').")
    trainer = _make_trainer(config, show_progress)  # an unknown backend or parameter fails before any work
    stages = _progress(4, "load", show_progress)
    clock = _Stopwatch()
    searching = graph is None and config.scoring.method == "blend" and config.scoring.search
    inputs, config = load_inputs(data, config, graph, timings=clock.timings, log=log, build=not searching,
                                 on_loaded=lambda: _advance(stages, "graph + walks" if graph is None else "walks"))
    _advance(stages, f"train ({config.backend})")
    return _train(inputs, out_dir, config, trainer, clock, stages, extra_manifest)


def train_on_corpus(inputs: TrainingInputs, out_dir: str | Path | None, config: RunConfig,
                    show_progress: bool = False, extra_manifest: dict | None = None) -> TrainResult:
    """Train ``config``'s backend on a prebuilt corpus (:func:`load_inputs`) and write the artifact.

    ``inputs.corpus`` must have been walked with ``config``'s seed and views (as
    :func:`load_inputs` does), so the artifact is the one :func:`train` would write.
    """
    if out_dir is not None:
        out_dir = check_output_dir(out_dir)
    trainer = _make_trainer(config, show_progress)
    stages = _progress(2, f"train ({config.backend})", show_progress)
    # A shared corpus is what every backend must train on: the search never swaps it for its slice's.
    return _train(inputs, out_dir, config, trainer, _Stopwatch(inputs.timings_s), stages, extra_manifest,
                  keep_slice=False)


def _progress(total: int, first: str, show: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=first, unit="stage", disable=not show, leave=False)


def _make_trainer(config: RunConfig, show_progress: bool):
    params = {**config.trainer.params, "seed": stage_seeds(config.seed).trainer, "show_progress": show_progress}
    return trainers.get_trainer(config.backend, **params)


def _train(inputs: TrainingInputs, out_dir: Path | None, config: RunConfig, trainer, clock: _Stopwatch,
           stages, extra_manifest: dict | None, keep_slice: bool = True) -> TrainResult:
    t = time.perf_counter()
    search = None
    if config.scoring.method == "blend" and config.scoring.search:
        # Chosen first, on a validation slice: a large log's slice model is kept (blend.Search.reusable).
        search = _search_blend(inputs, config, trainer)
        t = clock.lap("search", t)
    if search is not None and search.reusable and keep_slice:
        kept: SliceModel = search.built
        corpus, embeddings, history = kept.corpus, kept.vectors, dict(kept.history)
        history["trained_on"] = "the log without the validation pairs (validation.held_share)"
        # The training ran inside the search: count it as training (and a backend's own stages,
        # e.g. keras' examples and setup, as those stages), not twice.
        own = {k: float(v) for k, v in history.get("timings_s", {}).items()}
        trained = float(history.get("train_s", own.get("train", 0.0)))
        clock.timings["search"] = round(max(clock.timings["search"] - (sum(own.values()) or trained), 0.0), 4)
        clock.timings["train"] = round(trained, 4)
        t = time.perf_counter()
    else:
        if inputs.corpus is None:  # the search's slice missed too much of the log: the whole log, now
            assert inputs.ratings is not None  # load_inputs defers the build only when it read a log
            inputs = replace(inputs, corpus=build_corpus(inputs.ratings, config, clock.timings))
            t = time.perf_counter()
        assert inputs.corpus is not None
        corpus = inputs.corpus
        embeddings, history = fit_embeddings(trainer, corpus)
        t = clock.lap("train", t)
    _advance(stages, "index")
    # Backends may split their own time (e.g. keras: example generation vs training).
    for name, seconds in history.pop("timings_s", {}).items():
        clock.timings[name] = round(float(seconds), 4)
    # The configuration, recorded once (format 2): every section, each backend's included.
    manifest = {
        "config": config.to_dict(),
        "graph": corpus.stats(),
        "data": dict(inputs.data),
        "walks_sha256": corpus.sha256(),
        "training": history,
        "timings_s": clock.timings,
    }
    if "loss" in history:  # one value per epoch, at the top level (not twice)
        manifest["loss"] = history.pop("loss")
    manifest.update(extra_manifest or {})
    item_ids = corpus.item_ids
    rows = inputs.items.rows(item_ids)
    likes, popular = inputs.items.likes[rows], inputs.items.popular_rows()
    user_model = None
    if search is not None:
        config = search.config
        manifest["config"] = config.to_dict()
        manifest["validation"] = search.report
    if config.scoring.method == "blend":
        user_model = _fit_blend(inputs, config, item_ids, embeddings, likes, popular, corpus.graph)
        t = clock.lap("user_model", t)
    result = TrainResult(manifest, corpus.graph, corpus.walks[0], embeddings, Path(out_dir) if out_dir else None,
                         clock.timings, corpus, config, inputs.items, user_model)
    if out_dir is not None:
        def final_timings() -> dict:
            clock.lap("index", t)
            clock.total()
            return clock.timings

        titles, genres = inputs.items.metadata(item_ids)
        result.manifest = write_fitted(out_dir, item_ids=item_ids, embeddings=embeddings, likes=likes, titles=titles,
                                       genres=genres, popular=popular,
                                       catalogue=list(zip(inputs.items.item_ids.tolist(), inputs.items.titles)),
                                       config=config, manifest=manifest, final_timings=final_timings,
                                       user_model=user_model)
    else:
        clock.total()
    _advance(stages, "done")
    stages.close()
    return result


class SliceModel(NamedTuple):
    """What the blend's search trains on the log without its held-out pairs (the first three
    fields are what :func:`recgraph.blend.search` aligns with the scored catalogue)."""

    item_ids: np.ndarray
    vectors: np.ndarray
    graph: ItemGraph
    corpus: WalkCorpus
    history: dict


def _blend_ids(inputs: TrainingInputs, item_ids, likes, popular):
    """The scored catalogue's ids: the items with a vector, then popular ones without."""
    from .scoring import IdMap, with_popular

    return IdMap(with_popular(item_ids, np.zeros((len(item_ids), 1)), likes, popular)[0])


def _require_log(inputs: TrainingInputs) -> Ratings:
    if inputs.ratings is None:
        raise ParameterError("Scoring method 'blend' learns from the log's interactions, and a graph directory "
                             "holds none; train with --data (or scoring method 'cosine').")
    return inputs.ratings


def _search_blend(inputs: TrainingInputs, config: RunConfig, trainer):
    """The blend's settings chosen on a validation slice of the log (:func:`recgraph.blend.search`),
    each candidate trained with this run's graph, walks and trainer."""
    from . import blend

    ratings = _require_log(inputs)
    # Validation ranks the run's items with a graph node, or, before the graph is built, every item of the log.
    item_ids = inputs.items.item_ids if inputs.corpus is None else inputs.corpus.item_ids
    rows = inputs.items.rows(item_ids)
    ids = _blend_ids(inputs, item_ids, inputs.items.likes[rows], inputs.items.popular_rows())

    def build(part: Ratings) -> SliceModel:
        graphs = build_graphs(part, config.views)
        corpus = walk_graphs(graphs, config.views, config.walks, seed=stage_seeds(config.seed).walks)
        vectors, history = fit_embeddings(trainer, corpus)
        return SliceModel(corpus.item_ids, vectors, corpus.graph, corpus, history)

    return blend.search(ratings, config, ids, build)


def _fit_blend(inputs: TrainingInputs, config: RunConfig, item_ids, embeddings, likes, popular, graph) -> dict:
    """The "blend" scoring's user model (:mod:`recgraph.blend`) on the run's scored catalogue:
    the embeddings of ``item_ids``, the primary ``graph`` they were walked on and the whole
    log's interactions."""
    from . import blend

    ratings = _require_log(inputs)
    ids = _blend_ids(inputs, item_ids, likes, popular)
    return blend.fit_user_model(ratings, item_ids, embeddings, graph, ids, config.scoring)


#: Manifest keys :func:`recgraph.artifact.write_artifact` sets itself.
_WRITTEN_BY_ARTIFACT = ("format_version", "metric", "dim", "n_items", "n_trees", "recgraph_version", "created_at",
                        "scoring", "files", "artifact_id")


def write_fitted(path: str | os.PathLike, *, item_ids, embeddings, likes, titles, genres, popular, catalogue,
                 config: RunConfig, manifest: Mapping, final_timings=None, user_model: dict | None = None) -> dict:
    """Write a fitted model's artifact (:func:`recgraph.artifact.write_artifact`): the one writer
    of :func:`train` and :meth:`recgraph.model.Recommender.save`. Returns the manifest."""
    extra = {}
    png = loss_png(manifest.get("loss"))
    if png:
        extra["loss.png"] = png
    record = {k: v for k, v in manifest.items() if k not in _WRITTEN_BY_ARTIFACT}
    return write_artifact(path, embeddings, item_ids, titles, genres, record, n_trees=config.index.n_trees,
                          seed=stage_seeds(config.seed).index, extra_files=extra, likes=likes, popular=popular,
                          scoring=config.scoring, final_timings=final_timings, catalogue=catalogue,
                          user_model=user_model)


def build_graph_dir(data: str | Path | Ratings | None, out_dir: str | Path, config: RunConfig | None = None,
                    engine: str = "numpy", log: Mapping | None = None, engine_options: Mapping | None = None) -> dict:
    """The graph stage alone: build ``config``'s graph views from the log with ``engine``
    (:mod:`recgraph.engines`: ``"numpy"`` or ``"spark"``, made with ``engine_options``) and write
    the graph directory (:func:`recgraph.graph_store.write_graph`). ``data`` is read with
    ``log``'s options, as :func:`train` reads it. Returns its manifest."""
    from .engines import build_graph

    config = config or RunConfig()
    return build_graph(engine, data, out_dir, config.views, log, **dict(engine_options or {}))


def _advance(bar, next_stage: str) -> None:
    bar.update(1)
    bar.set_description_str(next_stage)


def loss_curves(loss) -> list[list[float]]:
    """A manifest's ``loss`` as one curve per graph view (one view: ``[loss]``)."""
    return loss if loss and isinstance(loss[0], list) else [loss]


def loss_png(loss) -> bytes | None:
    """A loss-per-epoch plot, when matplotlib (the ``plot`` extra) is installed.

    ``loss`` is one list of floats, or one list per graph view (a line each)."""
    if not loss:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("matplotlib not installed (pip install 'recgraph[plot]'): no loss.png")
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    curves = loss_curves(loss)
    for view, curve in enumerate(curves):
        label = f"view {view}" if len(curves) > 1 else None
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=label)
    if len(curves) > 1:
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training loss")
    ax.grid(True, alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
