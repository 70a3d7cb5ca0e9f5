"""The main job: ratings -> graph -> walks -> embeddings -> artifact, with timings."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .artifact import check_output_dir, write_artifact
from .data import Ratings, load_movielens
from .corpus import GraphParams, WalkCorpus, WalkParams, build_corpus, fit_embeddings
from .graph import ItemGraph
from .scoring import LIKE_MIN_RATING, POPULAR_SIZE, Popularity, ScoringOptions
from .trainers import get_trainer
from .validation import check_int

logger = logging.getLogger(__name__)

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


class _Stopwatch:
    def __init__(self):
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(now - since, 4)
        return now

    def total(self) -> None:
        self.timings["total"] = round(time.perf_counter() - self._start, 4)


def item_metadata(ratings: Ratings, movie_ids: np.ndarray) -> tuple[list[str], list[str]]:
    """Titles and genres for ``movie_ids`` (a movie missing from movies.csv gets ``movie <id>``)."""
    movies = ratings.movies.set_index("movieId")
    titles = movies["title"].reindex(movie_ids)
    genres = movies["genres"].reindex(movie_ids)
    fallback = [f"movie {m}" for m in movie_ids.tolist()]
    return (
        [t if isinstance(t, str) else f for t, f in zip(titles.tolist(), fallback)],
        [g if isinstance(g, str) else "" for g in genres.tolist()],
    )


def item_likes(ratings: Ratings) -> Popularity:
    """Distinct users per movie among ``ratings``' ratings >= ``LIKE_MIN_RATING`` (4.0)."""
    frame = ratings.ratings
    return Popularity.from_ratings(frame["userId"].to_numpy(), frame["movieId"].to_numpy(),
                                   frame["rating"].to_numpy(), LIKE_MIN_RATING)


def popular_rows(ratings: Ratings, likes: Popularity, n: int = POPULAR_SIZE) -> list[tuple[int, str, int]]:
    """The ``n`` most liked movies as ``(movie_id, title, likes)``, ties by movie id."""
    ids, counts = likes.top(n)
    titles, _ = item_metadata(ratings, ids)
    return [(int(m), t, int(c)) for m, t, c in zip(ids.tolist(), titles, counts.tolist())]


def stage_seeds(seed: int | None) -> tuple[int, int, int]:
    """Independent seeds for the walks, the trainer and Annoy, from the run's one seed."""
    if seed is not None:
        seed = check_int("seed", seed, low=0)
    return tuple(int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(3))


def train(
    data: str | Path | Ratings | None,
    out_dir: str | Path | None,
    backend: str = "gensim",
    seed: int | None = None,
    graph_params: GraphParams | list[GraphParams] | None = None,
    walk_params: WalkParams | None = None,
    trainer_params: dict | None = None,
    n_trees: int = 50,
    show_progress: bool = True,
    extra_manifest: dict | None = None,
    scoring: dict | None = None,
) -> TrainResult:
    """Run the whole pipeline and (when ``out_dir`` is given) write the artifact atomically.

    Parameters
    ----------
    data : a source for :func:`recgraph.data.load_movielens`, or loaded :class:`Ratings`.
    out_dir : artifact directory; checked before any work so a bad target fails fast.
    backend : trainer name (``recgraph.trainers.available_trainers()``).
    seed : one seed for the run; walks, training and Annoy get independent streams.
    graph_params : one graph view, or several (the first is the primary one; see
        :mod:`recgraph.corpus` for how their embeddings are combined).
    trainer_params : keyword hyperparameters of the backend.
    scoring : :class:`~recgraph.scoring.ScoringOptions` fields recorded in the artifact and
        applied by ``ItemIndex.recommend`` (None: plain cosine). The artifact always gets
        each movie's likes (items.csv) and the most liked movies (popular.csv) from ``data``.
    """
    graph_params = graph_params or GraphParams()
    walk_params = walk_params or WalkParams()
    trainer_params = dict(trainer_params or {})
    n_trees = check_int("n_trees", n_trees)
    scoring_options = ScoringOptions.from_value(scoring)
    if out_dir is not None:
        out_dir = check_output_dir(out_dir)
    # Create the trainer first: an unknown backend or parameter fails before any work.
    walk_seed, train_seed, index_seed = stage_seeds(seed)
    trainer_params.setdefault("seed", train_seed)
    trainer_params.setdefault("show_progress", show_progress)
    trainer = get_trainer(backend, **trainer_params)

    from tqdm.auto import tqdm

    stages = tqdm(total=4, desc="load", unit="stage", disable=not show_progress, leave=False)
    clock = _Stopwatch()
    t = time.perf_counter()
    ratings = data if isinstance(data, Ratings) else load_movielens(data)
    t = clock.lap("load", t)
    _advance(stages, "graph + walks")
    corpus = build_corpus(ratings, graph_params, walk_params, seed=walk_seed, timings=clock.timings)
    graph = corpus.graph
    t = time.perf_counter()
    _advance(stages, f"train ({backend})")
    embeddings, history = fit_embeddings(trainer, corpus)
    t = clock.lap("train", t)
    _advance(stages, "index")
    # Backends may split their own time (e.g. keras: example generation vs training).
    for name, seconds in history.pop("timings_s", {}).items():
        clock.timings[name] = round(float(seconds), 4)

    manifest = {
        "backend": backend,
        "seed": seed,
        "params": {
            **corpus.params_record(),
            "walks": vars(walk_params).copy(),
            "trainer": {k: v for k, v in trainer.get_params().items() if k != "show_progress"},
            "n_trees": n_trees,
        },
        "graph": corpus.stats(),
        "data": {"source": ratings.source, "md5": ratings.md5},
        "training": history,
        "timings_s": clock.timings,
    }
    if "loss" in history:  # one value per epoch, at the top level (not twice)
        manifest["loss"] = history.pop("loss")
    manifest.update(extra_manifest or {})
    if out_dir is not None:
        item_ids = corpus.item_ids
        titles, genres = item_metadata(ratings, item_ids)
        extra = {}
        png = _loss_png(manifest.get("loss"))
        if png:
            extra["loss.png"] = png
        likes = item_likes(ratings)

        def final_timings() -> dict:
            clock.lap("index", t)
            clock.total()
            return clock.timings

        manifest = write_artifact(out_dir, embeddings, item_ids, titles, genres, manifest,
                                  n_trees=n_trees, seed=index_seed, extra_files=extra,
                                  likes=likes.count(item_ids).astype(np.int64),
                                  popular=popular_rows(ratings, likes), scoring=scoring_options,
                                  final_timings=final_timings, catalogue=ratings.movies)
    else:
        manifest["scoring"] = scoring_options.to_dict()
        clock.total()
    _advance(stages, "done")
    stages.close()
    return TrainResult(manifest, graph, corpus.walks[0], embeddings, Path(out_dir) if out_dir else None,
                       clock.timings, corpus)


def _advance(bar, next_stage: str) -> None:
    bar.update(1)
    bar.set_description_str(next_stage)


def loss_curves(loss) -> list[list[float]]:
    """A manifest's ``loss`` as one curve per graph view (one view: ``[loss]``)."""
    return loss if loss and isinstance(loss[0], list) else [loss]


def _loss_png(loss) -> bytes | None:
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
