"""Parameter checks shared by every stage: one clear sentence per bad value."""

from __future__ import annotations

import math

import numpy as np

from .errors import ParameterError


def check_int(name: str, value, low: int = 1) -> int:
    """``value`` as an int >= ``low``, else ParameterError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name} must be an integer >= {low}; got {value!r}.")
    return int(value)


def check_float(name: str, value, low: float | None = None, high: float | None = None, open_low: bool = False) -> float:
    """``value`` as a finite float in [low, high] (or (low, high] with ``open_low``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number; got {value!r}.") from None
    too_low = low is not None and (number <= low if open_low else number < low)
    too_high = high is not None and number > high
    if not math.isfinite(number) or too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"> {low:g}" if open_low else f">= {low:g}")
        if high is not None:
            bounds.append(f"<= {high:g}")
        rule = f"a finite number {' and '.join(bounds)}" if bounds else "a finite number"
        raise ParameterError(f"{name} must be {rule}; got {value!r}.")
    return number


def check_positive(name: str, value) -> float:
    """``value`` as a finite float > 0."""
    return check_float(name, value, low=0.0, open_low=True)
