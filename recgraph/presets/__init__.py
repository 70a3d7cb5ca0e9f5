"""Named run configurations, shipped as TOML files in the configuration's own shape.

Each ``<name>.toml`` beside this module is a configuration file like any other
(:func:`recgraph.config.load_config` reads the same shape), holding every section:

- ``showcase`` (the default: what :class:`recgraph.config.RunConfig` ``()`` is and what
  ``recgraph train`` runs without ``--preset``): the Keras example's graph and walks,
  gensim settings chosen for the README's first impression (``docs/defaults.md``), plain
  cosine scoring.
- ``seed``: the Keras node2vec example's parameters, exactly (both backends train with
  window 10, 4 negatives, 10 epochs); plain cosine.
- ``tuned``: the best configuration found on validation splits (``docs/tuning.md``,
  ``docs/graph_options.md``): three graph views, 40 walks per movie, and a popularity
  prior, recency and a most-popular fallback at query time.

This module only finds the files and reads their text; :func:`recgraph.config.load_preset`
parses one into a :class:`~recgraph.config.RunConfig`.

>>> available_presets()
['movielens', 'seed', 'showcase', 'tuned']
"""

from __future__ import annotations

from importlib import resources

from ..errors import ParameterError

#: The preset a run uses when it names none (``RunConfig()`` equals it).
DEFAULT_PRESET = "showcase"


def available_presets() -> list[str]:
    """Names of the shipped presets (the ``.toml`` files of this package)."""
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    """The TOML text of preset ``name``; an unknown name lists the available ones."""
    if not isinstance(name, str) or name not in available_presets():
        raise ParameterError(f"Unknown preset {name!r}; available: {', '.join(available_presets())}.")
    return resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
