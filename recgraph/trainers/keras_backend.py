"""The Keras "node2vec on MovieLens" example's skip-gram model, on Keras 3 (JAX by default).

The model, loss, optimizer, batch size, epochs, examples and their weighting are those of
the document recgraph was created from (``../shared/seed``; ``docs/keras_backend.md``):
a negative draw of a pair that co-occurs in a walk is dropped.
``keep_cooccurring_negatives=True`` keeps such draws, as another published version of
the example does. What differs:

- training examples are built by whole-array numpy (:mod:`.skipgrams`), not a Python
  loop over walks and pairs;
- numpy arrays go straight to ``Model.fit`` (no ``tf.data``), reshuffled each epoch by
  our seeded generator, with several steps per execution;
- Keras runs on JAX unless ``KERAS_BACKEND`` says otherwise.

Keras is imported inside :meth:`KerasTrainer.fit`, so importing this module (or
``recgraph.trainers``) stays cheap; ``KERAS_BACKEND`` defaults to ``jax`` only then.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time

import numpy as np

from ..errors import MissingDependencyError, ParameterError
from ..validation import check_float, check_int
from .base import Trainer
from .skipgrams import skipgram_examples

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "recgraph[keras]"'
#: Train steps per call into Keras' compiled step loop (fewer callback round trips).
STEPS_PER_EXECUTION = 64


def _keras_backend_name() -> str:
    """The Keras backend we will run: ``KERAS_BACKEND`` when set, else JAX."""
    return os.environ.get("KERAS_BACKEND") or "jax"


def _require(module: str) -> None:
    """Fail with the install hint when ``module`` cannot be found (nothing is imported)."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingDependencyError(_missing_message(module))


def _missing_message(module: str) -> str:
    user_backend = os.environ.get("KERAS_BACKEND")
    if module != "keras" and user_backend and user_backend != "jax":
        return (f"KERAS_BACKEND={user_backend} needs {module}, which is not installed; install it, or unset "
                f"KERAS_BACKEND to train on JAX ({INSTALL_HINT}).")
    return f"The keras backend needs {module}, which is not installed; install it with {INSTALL_HINT}."


def _check_dependencies() -> None:
    """Keras, and the backend it will load unless Keras is already imported."""
    _require("keras")
    if "keras" not in sys.modules:
        _require(_keras_backend_name())


def import_keras():
    """Import Keras, on JAX unless ``KERAS_BACKEND`` names another backend.

    ``KERAS_BACKEND`` is set to ``jax`` only when the user has not set it, and only
    here, never when recgraph is imported. A Keras the caller already imported is
    used as it is.
    """
    _check_dependencies()
    if "keras" not in sys.modules and not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = "jax"
    try:
        import keras
    except ImportError as exc:
        raise MissingDependencyError(_missing_message(getattr(exc, "name", None) or str(exc))) from None
    return keras


# Fail when the backend is chosen (before any walk is built): the registry passes this
# MissingDependencyError on as it is.
_check_dependencies()


class KerasTrainer(Trainer):
    """Skip-gram with negative sampling as a Keras model, exactly the document's.

    One shared ``Embedding(num_nodes + 1, dim)`` (he_normal, L2 1e-6; token 0 is
    reserved as in the example) embeds target and context; the logit is their dot
    product; binary cross-entropy on logits, weighted by how often each pair was drawn;
    Adam; the last partial batch of each epoch is dropped.

    Parameters
    ----------
    dim : embedding size.
    window : maximum distance between target and context within a walk (the example
        uses the walk length, 10: every pair of a walk).
    negative : negative pairs drawn per positive pair.
    epochs : passes over the examples.
    batch_size : examples per gradient step.
    learning_rate : Adam's learning rate.
    keep_cooccurring_negatives : False (default): the document's aggregation, which
        drops every negative draw of a pair that co-occurs in a walk. True: such draws
        are kept, as a negative row beside the pair's positive row (another published
        version of the example; ``docs/keras_backend.md``).
    seed : seeds example generation, the per-epoch shuffles and Keras
        (``keras.utils.set_random_seed``, which also seeds Python's and numpy's
        global generators). On JAX/CPU the same seed gives the same embeddings.
    show_progress : a progress bar per epoch.
    """

    name = "keras"

    def __init__(
        self,
        dim: int = 50,
        window: int = 10,
        negative: int = 4,
        epochs: int = 10,
        batch_size: int = 1024,
        learning_rate: float = 0.001,
        keep_cooccurring_negatives: bool = False,
        seed: int | None = None,
        show_progress: bool = True,
    ):
        self.dim = dim
        self.window = window
        self.negative = negative
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.keep_cooccurring_negatives = keep_cooccurring_negatives
        self.seed = seed
        self.show_progress = show_progress

    def validate(self) -> dict:
        if self.seed is not None:
            check_int("seed", self.seed, low=0)
        if not isinstance(self.keep_cooccurring_negatives, bool):
            raise ParameterError("keep_cooccurring_negatives must be True or False; "
                                 f"got {self.keep_cooccurring_negatives!r}.")
        return {
            "dim": check_int("dim", self.dim),
            "window": check_int("window", self.window),
            "negative": check_int("negative", self.negative),
            "epochs": check_int("epochs", self.epochs),
            "batch_size": check_int("batch_size", self.batch_size),
            "learning_rate": check_float("learning_rate", self.learning_rate, low=0.0, open_low=True),
        }

    def _fit(self, walks: np.ndarray, num_nodes: int) -> tuple[np.ndarray, dict]:
        checked = self.validate()
        dim, window, negative, epochs = checked["dim"], checked["window"], checked["negative"], checked["epochs"]
        batch_size, learning_rate = checked["batch_size"], checked["learning_rate"]
        examples_seq, shuffle_seq, keras_seq = np.random.SeedSequence(self.seed).spawn(3)

        t = time.perf_counter()
        # Token = node + 1; padding (-1) becomes the reserved token 0, which is skipped.
        tokens = walks.astype(np.int32) + 1
        vocab_size = num_nodes + 1
        examples = skipgram_examples(tokens, vocab_size, window, negative, np.random.default_rng(examples_seq),
                                     keep_cooccurring_negatives=self.keep_cooccurring_negatives)
        examples_s = time.perf_counter() - t
        steps = examples.n_examples // batch_size
        if steps == 0:
            raise ParameterError(
                f"batch_size ({batch_size}) is larger than the number of training examples "
                f"({examples.n_examples}); choose a smaller batch_size."
            )

        t = time.perf_counter()
        keras = import_keras()
        if self.seed is not None:
            keras.utils.set_random_seed(int(keras_seq.generate_state(1)[0]))
        model = build_model(keras, vocab_size, dim)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            steps_per_execution=min(STEPS_PER_EXECUTION, steps),
        )
        setup_s = time.perf_counter() - t

        shuffle_rng = np.random.default_rng(shuffle_seq)
        progress = _EpochProgress(keras, epochs, steps, enabled=bool(self.show_progress))
        losses: list[float] = []
        epoch_s: list[float] = []
        for epoch in range(epochs):
            # The example shuffles through a 2-batch buffer; we shuffle everything,
            # then drop the last partial batch as its batch(drop_remainder=True) does.
            order = shuffle_rng.permutation(examples.n_examples)[: steps * batch_size]
            x = {"target": examples.targets[order], "context": examples.contexts[order]}
            y, w = examples.labels[order], examples.weights[order]
            progress.start(epoch)
            t = time.perf_counter()
            history = model.fit(x, y, sample_weight=w, batch_size=batch_size, epochs=1, shuffle=False,
                                verbose=0, callbacks=progress.callbacks)
            epoch_s.append(round(time.perf_counter() - t, 4))
            losses.append(float(history.history["loss"][-1]))
            progress.finish(losses[-1])
        logger.info("keras (%s): loss %.4f -> %.4f over %d epochs", keras.backend.backend(), losses[0],
                    losses[-1], epochs)

        train_s = sum(epoch_s)
        later = epoch_s[1:] or epoch_s  # the first epoch includes XLA compilation
        table = keras.ops.convert_to_numpy(model.get_layer("item_embeddings").embeddings.value)
        history = {
            "loss": losses,
            "epochs": epochs,
            "steps_per_epoch": steps,
            "keras_backend": keras.backend.backend(),
            **examples.counts(),
            "epoch_s": epoch_s,
            # Examples trained per second, over the epochs after the first (no compilation).
            "examples_per_s": round(steps * batch_size * len(later) / max(sum(later), 1e-9)),
            # "train" is Model.fit alone (its first call includes XLA compilation);
            # "keras_setup" is importing Keras and building the model.
            "timings_s": {"examples": round(examples_s, 4), "keras_setup": round(setup_s, 4),
                          "train": round(train_s, 4)},
        }
        return table[1:], history


def build_model(keras, vocab_size: int, dim: int):
    """The example's model: shared embedding, dot product of target and context, one logit."""
    layers = keras.layers
    inputs = {
        "target": layers.Input(name="target", shape=(), dtype="int32"),
        "context": layers.Input(name="context", shape=(), dtype="int32"),
    }
    embed_item = layers.Embedding(
        input_dim=vocab_size,
        output_dim=dim,
        embeddings_initializer="he_normal",
        embeddings_regularizer=keras.regularizers.l2(1e-6),
        name="item_embeddings",
    )
    logits = layers.Dot(axes=1, normalize=False, name="dot_similarity")(
        [embed_item(inputs["target"]), embed_item(inputs["context"])]
    )
    return keras.Model(inputs=inputs, outputs=logits)


class _EpochProgress:
    """A tqdm bar per epoch, advanced from Keras' batch callbacks (none when disabled)."""

    def __init__(self, keras, epochs: int, steps: int, enabled: bool):
        self.epochs, self.steps, self.enabled = epochs, steps, enabled
        self.bar = None
        outer = self

        class _Callback(keras.callbacks.Callback):
            # Reads only the step number, never the logs: Keras may dispatch it asynchronously.
            async_safe = True

            def on_train_batch_end(self, batch, logs=None):
                # With several steps per execution, Keras reports the last step a full
                # execution would reach, which can overshoot the epoch.
                if outer.bar is not None:
                    outer.bar.update(min(batch + 1, outer.steps) - outer.bar.n)

        self.callbacks = [_Callback()] if enabled else []

    def start(self, epoch: int) -> None:
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="step", leave=True)

    def finish(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.steps - self.bar.n)
            self.bar.set_postfix(loss=f"{loss:.4f}")
            self.bar.close()
            self.bar = None
