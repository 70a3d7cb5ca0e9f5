"""Typed log columns from Arrow arrays, with one sentence naming the first bad value.

Each converter takes the column as Arrow data (as parsed from CSV or Parquet, or taken from a
DataFrame), its name in the file, and ``where``: a function turning a 0-based row position into
the place a person can find it (``"ratings.csv line 7"``, ``"part-0.parquet row 6"``).
Numeric Arrow types convert without a Python loop; strings (a CSV column pyarrow could not parse
as numbers, or a Parquet string column) go through pandas' number parser, which accepts what
the pre-pyarrow loader accepted (``"2.0"`` as an id, surrounding spaces).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Callable, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError, excerpt

Where = Callable[[int], str]
ArrowColumn: TypeAlias = pa.Array | pa.ChunkedArray
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Floats at or beyond this magnitude do not hold every integer exactly.
_EXACT_FLOAT = 2.0**53


def _out_of_range(where: Where, row: int, column: str, value) -> DataError:
    return DataError(f"{where(row)}: {column} {excerpt(value)} is outside the 64-bit integer range "
                     f"({INT64_MIN} to {INT64_MAX}).")


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _decoded(values: ArrowColumn, column: str, where: Where) -> ArrowColumn:
    """Dictionary-decoded values without nulls (a null is named as the bad value)."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if values.null_count:
        row = int(np.flatnonzero(pc.is_null(values).to_numpy(zero_copy_only=False))[0])  # null_count > 0
        raise DataError(f"{where(row)}: {column} is empty (null); every row needs a value.")
    return values


def _numpy(values: ArrowColumn) -> np.ndarray:
    # One contiguous numpy array; the Arrow chunks are freed when the caller drops ``values``.
    return values.to_numpy() if isinstance(values, pa.ChunkedArray) else values.to_numpy(zero_copy_only=False)


def _strings(values: ArrowColumn) -> pd.Series:
    return pd.Series(_numpy(values.cast(pa.string())), dtype=object)


def _parse_numbers(values: ArrowColumn, column: str, where: Where, integer: bool) -> np.ndarray:
    """Strings to numbers the way the dtype=str loader did; first bad value in one sentence."""
    raw = _strings(values)
    numbers = pd.to_numeric(raw, errors="coerce")
    as_float = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(as_float)
    if integer:
        bad |= as_float != np.round(as_float)
    row = _first(bad)
    if row is not None:
        kind = "an integer" if integer else "a number"
        value = raw.iloc[row]
        if integer and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            raise _out_of_range(where, row, column, value)  # digits too many even for a float
        raise DataError(f"{where(row)}: {column} {excerpt(value)} is not {kind}.")
    if integer:
        return _exact_int64(raw, numbers, as_float, column, where)
    return as_float


def _exact_int64(raw: pd.Series, numbers: pd.Series, as_float: np.ndarray, column: str, where: Where) -> np.ndarray:
    """Parsed integers as int64, exactly: a value past int64 is refused, never wrapped, and a
    large one that went through a float (a column mixing "2.0" and big ids) is read again exactly."""
    if numbers.dtype.kind == "i":
        return numbers.to_numpy(dtype=np.int64)
    if numbers.dtype.kind == "u":
        values = numbers.to_numpy()
        row = _first(values > INT64_MAX)
        if row is not None:
            raise _out_of_range(where, row, column, raw.iloc[row])
        return values.astype(np.int64)
    big = np.flatnonzero(np.abs(as_float) >= _EXACT_FLOAT)
    out = np.where(np.abs(as_float) >= _EXACT_FLOAT, 0.0, as_float).astype(np.int64)
    for row in big.tolist():  # rare: only ids of 16 digits and more
        try:
            value = Decimal(str(raw.iloc[row]).strip())
            exact = int(value) if value == value.to_integral_value() else None
        except (InvalidOperation, ValueError):
            exact = None
        if exact is None:
            raise DataError(f"{where(row)}: {column} {excerpt(raw.iloc[row])} is not an integer.")
        if not INT64_MIN <= exact <= INT64_MAX:
            raise _out_of_range(where, row, column, raw.iloc[row])
        out[row] = exact
    return out


def to_int64(values: ArrowColumn, column: str, where: Where) -> np.ndarray:
    """An id column as int64: integers, integral floats, or strings of integers."""
    values = _decoded(values, column, where)
    kind = values.type
    if pa.types.is_integer(kind):
        if pa.types.is_uint64(kind):
            row = _first(_numpy(values) > np.iinfo(np.int64).max)
            if row is not None:
                raise _out_of_range(where, row, column, int(_numpy(values)[row]))
        return _numpy(values).astype(np.int64, copy=False)
    if pa.types.is_floating(kind):
        floats = _numpy(values).astype(np.float64, copy=False)
        row = _first(~np.isfinite(floats) | (floats != np.round(floats)))
        if row is not None:
            raise DataError(f"{where(row)}: {column} {float(floats[row])!r} is not an integer.")
        row = _first((floats >= 2.0**63) | (floats < -(2.0**63)))
        if row is not None:
            raise _out_of_range(where, row, column, float(floats[row]))
        return floats.astype(np.int64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        return _parse_numbers(values, column, where, integer=True)
    raise DataError(f"{where(0)}: {column} has type {kind}; expected integer ids.")


def to_float64(values: ArrowColumn, column: str, where: Where) -> np.ndarray:
    """A rating column as finite float64: numbers or strings of numbers."""
    values = _decoded(values, column, where)
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        floats = _numpy(values.cast(pa.float64()) if pa.types.is_decimal(kind) else values)
        floats = floats.astype(np.float64, copy=False)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        return _parse_numbers(values, column, where, integer=False)
    else:
        raise DataError(f"{where(0)}: {column} has type {kind}; expected numbers.")
    row = _first(~np.isfinite(floats))
    if row is not None:
        kind = "a number" if np.isnan(floats[row]) else "a finite number"
        raise DataError(f"{where(row)}: {column} '{float(floats[row])}' is not {kind}.")
    return floats


def to_seconds(values: ArrowColumn, column: str, where: Where) -> np.ndarray:
    """A time column as int64 Unix seconds: integers, Arrow timestamps/dates, or ISO-8601 text."""
    values = _decoded(values, column, where)
    kind = values.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        stamps = _numpy(values)
        return stamps.astype("datetime64[s]").astype(np.int64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        raw = _strings(values)
        numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        integral = np.isfinite(numbers) & (numbers == np.round(numbers)) & (np.abs(numbers) < 2.0**63)
        if integral.all():
            return numbers.astype(np.int64)
        if not integral.any():  # text times, e.g. "2020-01-31 12:00:00"
            parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
            row = _first(parsed.isna().to_numpy())
            if row is None:
                return parsed.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)
        else:
            row = int(np.flatnonzero(~integral)[0])  # not all integral
        raise DataError(f"{where(row)}: {column} {excerpt(raw.iloc[row])} is not an integer "
                        "(Unix seconds) or an ISO-8601 date and time.")
    return to_int64(values, column, where)


def _is_string_view(kind: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(kind))
