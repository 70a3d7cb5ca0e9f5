"""Typed, multi-threaded CSV reading with pyarrow, and a line number for every bad value.

pyarrow parses the named columns straight into int64/float64 arrays with both cores. When a
value does not parse, pyarrow names the column but not the row, so only that column is read
again as text and :mod:`recgraph.data.columns` finds the first bad line and value.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import BinaryIO, Callable

import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError, excerpt

#: Bytes read to find the header line (a header longer than this is not a log we expect).
HEADER_BYTES = 1 << 20
#: Most columns a log or items CSV may have (a wider header is refused before parsing:
#: pyarrow's memory grows with the column count).
MAX_COLUMNS = 10_000
#: pyarrow block size: large blocks parse faster; 16 MiB keeps each thread's buffer small.
BLOCK_BYTES = 16 << 20

_COLUMN_ERROR = re.compile(r"In CSV column #(\d+)")


@dataclass(frozen=True)
class CsvFile:
    """A CSV that can be opened more than once: a path, or an opener (zip member, bytes).

    ``label`` is how messages name it; line N is the file's N-th line (the header is line 1).
    """

    label: str
    path: str | None = None
    opener: Callable[[], BinaryIO] | None = None
    delimiter: str = ","

    @classmethod
    def from_bytes(cls, payload: bytes, label: str, delimiter: str = ",") -> "CsvFile":
        return cls(label=label, opener=lambda: io.BytesIO(payload), delimiter=delimiter)

    def _open(self):
        # A path goes to pyarrow as is: it reads (and un-gzips) it in native code.
        return self.path if self.path is not None else self._stream()

    def _stream(self) -> BinaryIO:
        # Only for a CsvFile without a path, which its constructors give an opener.
        if self.opener is None:
            raise TypeError(f"CsvFile {self.label!r} has neither a path nor an opener.")
        return self.opener()

    def header(self, expected: tuple[str, ...]) -> list[str]:
        """The column names of line 1; an empty file is one sentence naming ``expected``."""
        if self.path is not None:
            with pa.input_stream(self.path) as stream:
                head = stream.read(HEADER_BYTES)
        else:
            with self._stream() as stream:
                head = stream.read(HEADER_BYTES)
                _raise_stream_error(stream)
        if not head.strip():
            raise DataError(f"{self.label} is empty; expected a CSV header with columns {', '.join(expected)}.")
        if len(head) >= HEADER_BYTES and b"\n" not in head:
            raise DataError(f"{self.label}: the header (line 1) is longer than {HEADER_BYTES:,} bytes; "
                            "a log's header names a few columns.")
        line = head.split(b"\n", 1)[0].rstrip(b"\r")
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError(f"{self.label} is not a readable CSV file (its header is not UTF-8 text).") from None
        try:
            names = next(csv.reader([text], delimiter=self.delimiter), [])
        except csv.Error as exc:
            raise DataError(f"{self.label} is not a readable CSV file (its header: {str(exc)[:120]}).") from None
        if len(names) > MAX_COLUMNS:
            raise DataError(f"{self.label}: the header has {len(names):,} columns; a log or items table has at most "
                            f"{MAX_COLUMNS:,}.")
        return names

    def read(self, types: dict[str, pa.DataType], header: list[str]) -> tuple[dict[str, pa.ChunkedArray], int]:
        """The columns ``types`` names, typed where they parse and as strings where they don't.

        Returns the columns and the row count. A column that fails its type is read again,
        alone, as text; the caller's converter then names its first bad line.
        """
        pending = dict(types)
        columns: dict[str, pa.ChunkedArray] = {}
        rows = 0
        while pending:
            try:
                table = self._read_table(pending)
            except pa.ArrowInvalid as exc:
                message = str(exc)
                match = _COLUMN_ERROR.search(message)
                name = header[int(match.group(1))] if match and int(match.group(1)) < len(header) else None
                if name not in pending or pending[name] == pa.string():
                    raise self._unreadable(message) from None
                # Only the offending column is read again, as text; the rest retry typed.
                try:
                    text = self._read_table({name: pa.string()})
                except pa.ArrowInvalid as again:
                    raise self._unreadable(str(again)) from None
                columns[name] = text.column(name)
                rows = text.num_rows
                del pending[name]
                continue
            rows = table.num_rows
            for name in pending:
                columns[name] = table.column(name)
            break
        return columns, rows

    def _read_table(self, types: dict[str, pa.DataType], *, threads: bool = True, handler=None,
                    encoding: str = "utf8") -> pa.Table:
        source = self._open()
        try:
            table = self._parse(source, types, threads, handler, encoding)
        except pa.ArrowInvalid:
            _raise_stream_error(source)
            raise
        finally:
            if hasattr(source, "close"):
                source.close()
        _raise_stream_error(source)
        return table

    def _parse(self, source, types: dict[str, pa.DataType], threads: bool, handler, encoding: str) -> pa.Table:
        return pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(use_threads=threads, block_size=BLOCK_BYTES, encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(types), column_types=types,
                # No value means "missing": an empty field is a bad value, as before pyarrow.
                null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )

    def _unreadable(self, message: str) -> DataError:
        first = message.splitlines()[0] if message else "unknown error"
        if "Expected" in first and "columns" in first:
            bad = self._first_ragged_row()
            if bad is not None:
                number, text = bad
                return DataError(f"{self.label} line {number}: {first.split(': ', 1)[-1].split(':')[0].lower()} "
                                 f"({excerpt(text)}).")
        if "straddling object" in first:
            return DataError(f"{self.label} has a line longer than {BLOCK_BYTES:,} bytes; a log's lines hold a few "
                             "fields.")
        if len(first) > 200:  # pyarrow quotes the offending row whole
            first = first[:200] + "..."
        return DataError(f"{self.label} is not a readable CSV file ({first}).")

    def _first_ragged_row(self) -> tuple[int, str] | None:
        """Line number and text of the first row with the wrong field count (one thread: numbered)."""
        found: list[tuple[int, str]] = []

        def handler(row) -> str:
            if row.number is not None:
                found.append((row.number, row.text))
            return "error"

        try:
            # Read as Latin-1 (every byte is a character): pyarrow decodes each bad row's text
            # for the handler, and a row that is not UTF-8 would fail there, outside our reach.
            self._read_table({}, threads=False, handler=handler, encoding="latin-1")
        except pa.ArrowInvalid:
            pass
        return found[0] if found else None


def _raise_stream_error(source) -> None:
    """Raise the error a stream recorded instead of raising it inside pyarrow's reading thread
    (a Python exception there can take the interpreter down at exit)."""
    error = getattr(source, "error", None)
    if error is not None:
        raise error
