"""Project exceptions: one clear sentence each; the CLI turns them into a non-zero exit."""

from __future__ import annotations


class RecgraphError(Exception):
    """Base class of every error recgraph raises on purpose."""


class DataError(RecgraphError, ValueError):
    """A ratings/items source is missing, unreadable or malformed."""


class ParameterError(RecgraphError, ValueError):
    """A parameter is outside its valid range."""


class EmptyGraphError(RecgraphError, ValueError):
    """The thresholds left no edge in the item graph."""


class ArtifactError(RecgraphError):
    """An artifact directory is missing, incomplete or does not match its manifest."""


class UnknownItemError(RecgraphError, KeyError):
    """An item id or title is not in the index."""

    def __init__(self, message: str, suggestions: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions or [])

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class MissingDependencyError(RecgraphError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


class NotFittedError(RecgraphError, AttributeError):
    """A model was asked for answers before it was fitted or loaded."""


#: Characters of a file's content (or of a value) an error message quotes at most.
EXCERPT_CHARS = 60


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``value`` for an error message (hostile input can be
    megabytes): a string quoted, anything else as its ``repr``, with a count of what was left out."""
    shown = value if isinstance(value, str) else repr(value)
    head = repr(shown[:limit]) if isinstance(value, str) else shown[:limit]
    return head + (f" (and {len(shown) - limit:,} more characters)" if len(shown) > limit else "")
