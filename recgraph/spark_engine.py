"""The item graph on Apache Spark: the same graph as the numpy engine, for logs past one box.

Reads a ratings log (CSV or Parquet, a file or a directory of parts, on any file system
Spark reads: local, ``s3a://``, ``hdfs://``; a MovieLens directory or local zip means its
``ratings.csv`` and ``movies.csv``), applies the loader's rules and SPEC's graph definition
with DataFrame operations only, and writes a graph directory (``edges.parquet``,
``edges-1.parquet`` ..., ``items.parquet``, ``manifest.json``) that ``recgraph train --graph``
reads. PySpark is imported here only, and only when a build starts.

The plan, per view (every step is a Spark SQL operator, no Python UDF)::

    log  --repartition(user)--> dedupe: max(struct(ts, rating)) per (user, item)   [cached]
         --filter rating >= min_rating--> per-user cap: row_number over user (ts desc, item asc)
         --> n_x per item, min_item_users --> total
         --self-join on user, a < b (no shuffle: both sides are partitioned by user)-->
         --> count per (a, b) --> weight = (log n_ab - log n_a - log n_b + log total) * n_ab
         --> weight >= min_weight and > 0 --> max_degree: top K per endpoint (window), union
         --> sort (src, dst) --> edges-N.parquet

The log is shuffled once, by user; the cap runs before the join, so one heavy user costs
at most ``max_user_items**2 / 2`` pair rows (docs/spark.md, "Skew").

>>> manifest = build_graph_spark("ml-latest-small/", "graph/", [{"min_rating": 5.0, "min_weight": 10.0}],
...                              master="local[2]")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from ._version import __version__
from .config import GraphParams, _section
from .errors import DataError, EmptyGraphError, MissingDependencyError, ParameterError, RecgraphError

logger = logging.getLogger(__name__)

ENGINE = "spark"
MANIFEST_FILE = "manifest.json"
ITEMS_FILE = "items.parquet"
LIKES_MIN_RATING = 4.0
IMPLICIT_RATING = 5.0
MIN_JAVA = 17
#: Master URLs Spark accepts: local, local[N], local[*], local[N,F], spark://h:p[,h:p], yarn, k8s://...
MASTER_PATTERN = re.compile(
    r"^(local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://[^\s/:,]+:\d+(,[^\s/:,]+:\d+)*|yarn|k8s://\S+)$"
)
# Spark's own log lines (log4j2) kept to errors, so the CLI prints only what recgraph says.
LOG4J2_PROPERTIES = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


class SparkEngineError(RecgraphError, RuntimeError):
    """Spark could not start or a Spark job failed; the message says why in one sentence."""


def edges_file(view_index: int) -> str:
    """``edges.parquet`` for view 0, ``edges-N.parquet`` for view N."""
    return "edges.parquet" if view_index == 0 else f"edges-{view_index}.parquet"


# ---------------------------------------------------------------------------------------------
# Parameters


def view_params(view) -> GraphParams:
    """One graph view as :class:`recgraph.config.GraphParams` (the one place graph parameters are
    checked), from a GraphParams or a table of its fields; an unknown field is one sentence."""
    if isinstance(view, GraphParams):
        return view
    return _section(GraphParams, "graph", dict(view) if isinstance(view, Mapping) else dict(vars(view)))


# ---------------------------------------------------------------------------------------------
# Spark session: dependency checks, quiet logs, one-sentence errors


def _import_pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "The Spark engine needs PySpark; install it with: pip install 'recgraph[spark]'."
        ) from None
    return pyspark


def java_version() -> int:
    """Major version of the ``java`` Spark would start ($JAVA_HOME/bin/java, else on PATH).

    Raises MissingDependencyError naming what to install when there is none.
    """
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"$JAVA_HOME ({home}) has no bin/java" if home else "no java on PATH"
        raise MissingDependencyError(
            f"The Spark engine needs Java {MIN_JAVA} or newer ({where}); install a JDK, e.g. "
            f"apt-get install openjdk-{MIN_JAVA}-jre-headless, or set JAVA_HOME."
        )
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MissingDependencyError(f"Could not run {java} -version ({exc}); install Java {MIN_JAVA} or newer.") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not match:
        raise MissingDependencyError(f"{java} -version did not report a version; install Java {MIN_JAVA} or newer.")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_x" is Java 8
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise MissingDependencyError(
            f"{java} is Java {major}; the Spark engine needs Java {MIN_JAVA} or newer (install a newer JDK "
            "or point JAVA_HOME at one)."
        )
    return major


def check_master(master: str) -> str:
    """Refuse a master URL Spark cannot parse, with the forms it accepts."""
    if not isinstance(master, str) or not MASTER_PATTERN.match(master.strip()):
        raise ParameterError(
            f"Spark master {master!r} is not a master URL; use local[*], local[N], spark://HOST:PORT, yarn "
            "or k8s://https://HOST:PORT."
        )
    return master.strip()


def parse_spark_conf(pairs: Iterable[str] | None) -> dict:
    """``["KEY=VALUE", ...]`` (the CLI's ``--spark-conf``) -> dict; one sentence for a bad pair."""
    conf = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--spark-conf {pair!r} is not KEY=VALUE, e.g. spark.driver.memory=8g.")
        conf[key.strip()] = value.strip()
    return conf


def _log4j_file() -> str:
    path = os.path.join(tempfile.gettempdir(), f"recgraph-spark-log4j2-{os.getuid()}.properties")
    try:
        with open(path) as fh:
            if fh.read() == LOG4J2_PROPERTIES:
                return path
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".properties")
    with os.fdopen(fd, "w") as fh:
        fh.write(LOG4J2_PROPERTIES)
    os.replace(tmp, path)
    return path


def spark_session(master: str = "local[*]", spark_conf: Mapping[str, str] | None = None,
                  shuffle_partitions: int | None = None, driver_memory: str | None = None,
                  app_name: str = "recgraph-graph"):
    """Start (or join) a SparkSession with quiet logs; one sentence if Java, PySpark or the master fail.

    ``spark_conf`` wins over recgraph's defaults. ``driver_memory`` only takes effect when this
    call starts the JVM (the first session of the process). The JVM's own output goes to
    :func:`spark_log_path`, not to the terminal.
    """
    return _open_session(master, spark_conf, shuffle_partitions, driver_memory, app_name)[0]


def _open_session(master, spark_conf, shuffle_partitions, driver_memory, app_name="recgraph-graph"):
    """(session, True when this call started it)."""
    master = check_master(master)
    _import_pyspark()
    java_version()
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        # Bad values in a typed CSV column must fail the read, not become nulls (the loader's rule).
        "spark.sql.ansi.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.hadoop.parquet.enable.summary-metadata": "false",
    }
    if shuffle_partitions is not None:
        conf["spark.sql.shuffle.partitions"] = str(int(shuffle_partitions))
    if driver_memory:
        conf["spark.driver.memory"] = str(driver_memory)
    conf.update({k: str(v) for k, v in (spark_conf or {}).items()})
    log_opt = f"-Dlog4j2.configurationFile=file:{_log4j_file()}"
    conf["spark.driver.extraJavaOptions"] = (conf.get("spark.driver.extraJavaOptions", "") + " " + log_opt).strip()
    conf["spark.executor.extraJavaOptions"] = (conf.get("spark.executor.extraJavaOptions", "") + " " + log_opt).strip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # PySpark's notice about the pandas version
            from pyspark import SparkContext

            created = SparkContext._active_spark_context is None
            spark = _start(master, app_name, conf)
    except MissingDependencyError:
        raise
    except Exception as exc:  # the gateway exit, a master that does not answer, a bad conf value
        raise SparkEngineError(f"Spark did not start with master {master!r}: {_one_line(exc)} "
                               f"(Spark's log: {spark_log_path()}).") from None
    spark.sparkContext.setLogLevel("ERROR")
    for key, value in conf.items():  # a joined session: apply what can change at runtime
        if key.startswith("spark.sql.") and spark.conf.get(key, None) != value:
            try:
                spark.conf.set(key, value)
            except Exception:  # static SQL conf of a running session: keep what it has
                pass
    return spark, created


def stop_spark(spark, timeout: float = 60.0) -> None:
    """Stop the session and its JVM, and wait for the JVM to exit (so its memory is released and
    counted in this process's children's resource usage)."""
    from pyspark import SparkContext

    try:
        spark.stop()
    except Exception:  # a JVM already gone
        pass
    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None)
    if gateway is None:
        return
    try:
        gateway.shutdown()
    except Exception:
        pass
    SparkContext._gateway = None
    SparkContext._jvm = None
    if proc is not None:
        try:
            proc.stdin.close()  # the gateway server exits when its stdin closes
            proc.wait(timeout=timeout)
        except Exception:
            proc.kill()
            proc.wait()


def spark_log_path() -> str:
    """Where the JVM's own stdout/stderr go (the CLI prints only recgraph's sentences)."""
    return os.path.join(tempfile.gettempdir(), f"recgraph-spark-{os.getuid()}.log")


def _start(master: str, app_name: str, conf: Mapping[str, str]):
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is not None:  # join the running session (a notebook, tests)
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    from pyspark.java_gateway import launch_gateway

    sconf = SparkConf().setAppName(app_name).setAll(list(conf.items()))
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # under spark-submit its --master wins
        sconf.setMaster(master)
    if SparkContext._gateway is not None:  # a JVM left by a stopped session: reuse it (its heap stays)
        return SparkSession(SparkContext(conf=sconf))
    with open(spark_log_path(), "ab") as log:
        gateway = launch_gateway(sconf, popen_kwargs={"stdout": log, "stderr": log})
    try:
        context = SparkContext(conf=sconf, gateway=gateway)
    except BaseException:
        gateway.shutdown()
        raise
    return SparkSession(context)


def _one_line(exc: BaseException) -> str:
    """The first useful line of a Java/PySpark exception, without the stack trace."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            cause = java
            while cause.getCause() is not None and cause.getCause() is not cause:
                cause = cause.getCause()
            text = f"{cause.getClass().getSimpleName()}: {cause.getMessage()}"
        except Exception:
            text = str(exc)
    else:
        text = getattr(exc, "getMessage", lambda: None)() if hasattr(exc, "getMessage") else None
        text = text or str(exc) or type(exc).__name__
    for line in str(text).splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace", "Traceback")):
            return line.rstrip(".")[:400]
    return type(exc).__name__


def _spark_failure(exc: BaseException, doing: str, source: str | None = None) -> RecgraphError:
    """Translate a Py4J/PySpark exception into one project error sentence."""
    text = _one_line(exc)
    if "No FileSystem for scheme" in text or "ClassNotFoundException" in text and "S3AFileSystem" in text:
        scheme = re.search(r'scheme "?([a-z0-9]+)', text)
        name = scheme.group(1) if scheme else "this"
        return SparkEngineError(
            f"Spark has no file system for {name}:// paths while {doing}; add its connector, e.g. "
            "--spark-conf spark.jars.packages=org.apache.hadoop:hadoop-aws:<your Hadoop version> for s3a://."
        )
    if any(k in text for k in ("CAST_INVALID_INPUT", "MALFORMED_RECORD", "Malformed", "cannot be cast",
                               "NumberFormatException")):
        return DataError(f"A value in {source or 'the log'} is not a number where the user, item, rating or time "
                         f"column needs one ({text}).")
    if "OutOfMemoryError" in text or "Java heap space" in text:
        return SparkEngineError(f"Spark ran out of memory while {doing}; raise --driver-memory (local) or "
                                "spark.executor.memory, or raise spark.sql.shuffle.partitions (docs/spark.md).")
    return SparkEngineError(f"Spark failed while {doing}: {text}.")


def _spark_errors():
    """The exception types that mean 'Spark said no' (PySpark, Py4J)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (Py4JError, PySparkException)


# ---------------------------------------------------------------------------------------------
# File system access through Hadoop (local paths and remote ones alike)


class HadoopFS:
    """The Hadoop FileSystem of one path, through the JVM (works for file://, hdfs://, s3a://...)."""

    def __init__(self, spark, path: str):
        jvm = spark._jvm
        self._jvm = jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self.root = self._Path(path)
        self.fs = self.root.getFileSystem(spark._jsc.hadoopConfiguration())
        self.local = self.fs.getScheme() == "file"
        # The local file system hides its .crc side files from listings; the raw one shows them.
        self.raw = self.fs.getRawFileSystem() if self.local else self.fs

    def path(self, path: str):
        return self._Path(path)

    def qualified(self, path: str) -> str:
        return self.fs.makeQualified(self._Path(path)).toString()

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(self._Path(path)))

    def is_dir(self, path: str) -> bool:
        p = self._Path(path)
        return bool(self.fs.exists(p) and self.fs.getFileStatus(p).isDirectory())

    def list_names(self, path: str) -> list[str]:
        return [s.getPath().getName() for s in self.fs.listStatus(self._Path(path))]

    def files(self, path: str) -> list[tuple[str, int]]:
        """Every file under ``path``: (path relative to it, size)."""
        base = self.fs.makeQualified(self._Path(path)).toUri().getPath().rstrip("/")
        out = []
        it = self.raw.listFiles(self._Path(path), True)
        while it.hasNext():
            status = it.next()
            rel = status.getPath().toUri().getPath()[len(base) + 1:]
            out.append((rel, int(status.getLen())))
        return sorted(out)

    def delete(self, path: str) -> None:
        self.fs.delete(self._Path(path), True)

    def rename(self, src: str, dst: str) -> None:
        if not self.fs.rename(self._Path(src), self._Path(dst)):
            raise SparkEngineError(f"Could not rename {src} to {dst}.")

    def mkdirs(self, path: str) -> None:
        self.fs.mkdirs(self._Path(path))

    def read_text(self, path: str, limit: int = 1 << 20) -> str:
        stream = self.fs.open(self._Path(path))
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            lines, size = [], 0
            line = reader.readLine()
            while line is not None and size < limit:
                lines.append(line)
                size += len(line)
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            stream.close()

    def write_bytes(self, path: str, payload: bytes) -> None:
        stream = self.fs.create(self._Path(path), True)
        try:
            stream.write(bytearray(payload))
        finally:
            stream.close()


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


# ---------------------------------------------------------------------------------------------
# Reading the log


@dataclass
class LogSource:
    """Where the ratings and (optionally) the items table are, and in which format."""

    ratings: str
    ratings_format: str
    items: str | None
    items_format: str | None
    source: str
    md5: str | None
    cleanup: str | None = None  # a local temporary directory (an extracted zip)


def _format_of(fs: HadoopFS, path: str, what: str) -> str:
    lower = path.lower().rstrip("/")
    if lower.endswith(".parquet") or lower.endswith(".pq"):
        return "parquet"
    if lower.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if fs.is_dir(path):
        names = [n for n in fs.list_names(path) if not n.startswith((".", "_"))]
        if any(n.endswith(".parquet") for n in names):
            return "parquet"
        if any(n.endswith((".csv", ".csv.gz")) for n in names):
            return "csv"
        raise DataError(f"{what} {path} is a directory with neither .parquet nor .csv files; pass a CSV or "
                        "Parquet file, a directory of parts, or a MovieLens directory (ratings.csv, movies.csv).")
    raise DataError(f"{what} {path} is neither .csv nor .parquet; name the file by its format.")


def _local_md5(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_source(spark, source: str, items: str | None = None) -> LogSource:
    """Find the ratings file(s) and items table of ``source``; one sentence when there are none."""
    text = os.fspath(source)
    local = "://" not in text or text.startswith("file://")
    local_path = text[len("file://"):] if text.startswith("file://") else text
    if local and local_path.lower().endswith(".zip"):
        return _extract_zip(local_path, items)
    fs = HadoopFS(spark, text)
    if not fs.exists(text):
        raise DataError(f"Data source {text!r} does not exist; pass a CSV or Parquet log (a file or a directory "
                        "of parts) or a MovieLens directory, on any path Spark reads (local, s3a://, hdfs://).")
    items_path = items
    if fs.is_dir(text) and fs.exists(_join(text, "ratings.csv")):
        ratings = _join(text, "ratings.csv")
        if items_path is None and fs.exists(_join(text, "movies.csv")):
            items_path = _join(text, "movies.csv")
        md5 = _local_md5(ratings) if local else None
        fmt = "csv"
    else:
        ratings = text
        fmt = _format_of(fs, text, "Data source")
        md5 = _local_md5(local_path) if local else None
    items_fmt = None
    if items_path is not None:
        if not HadoopFS(spark, items_path).exists(items_path):
            raise DataError(f"Items table {items_path!r} does not exist; pass a CSV or Parquet file with an id "
                            "column and title (genres optional).")
        items_fmt = _format_of(HadoopFS(spark, items_path), items_path, "Items table")
    return LogSource(ratings, fmt, items_path, items_fmt, text, md5)


def _extract_zip(path: str, items: str | None) -> LogSource:
    if not os.path.isfile(path):
        raise DataError(f"Data source {path!r} does not exist; pass a MovieLens .zip, a directory, or a CSV or "
                        "Parquet log.")
    tmp = tempfile.mkdtemp(prefix="recgraph-spark-zip-")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            found = {}
            for wanted in ("ratings.csv", "movies.csv"):
                matches = sorted((n for n in names if n == wanted or n.endswith("/" + wanted)), key=len)
                if matches:
                    target = os.path.join(tmp, wanted)
                    with archive.open(matches[0]) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    found[wanted] = target
    except (zipfile.BadZipFile, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"Cannot read {path} as a zip archive ({exc}); pass a MovieLens .zip or a directory.") from None
    if "ratings.csv" not in found:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"Archive {path} holds no ratings.csv; expected a MovieLens archive.")
    items_path = items if items is not None else found.get("movies.csv")
    items_fmt = None
    if items_path is not None:
        if not os.path.exists(items_path):
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f"Items table {items_path!r} does not exist.")
        items_fmt = "parquet" if items_path.lower().rstrip("/").endswith((".parquet", ".pq")) else "csv"
    return LogSource(found["ratings.csv"], "csv", items_path, items_fmt, path, _local_md5(path), cleanup=tmp)


def _header(spark, path: str, fmt: str) -> list[str]:
    if fmt == "parquet":
        return list(spark.read.parquet(path).columns)
    # No inferSchema: Spark reads only the first line for the names.
    return list(spark.read.option("header", True).csv(path).columns)


def read_log(spark, src: LogSource, user_col: str, item_col: str, rating_col: str | None, time_col: str | None):
    """The log as (user long, item long, rating double[, ts long]) plus what was found.

    A rating column absent from the file means implicit feedback (every row rated 5.0); a time
    column absent from the file means no timestamps.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    label = src.ratings if src.cleanup is None else f"{src.source}:ratings.csv"
    columns = _header(spark, src.ratings, src.ratings_format)
    missing = [c for c in (user_col, item_col) if c not in columns]
    if missing:
        raise DataError(f"{label} lacks column(s) {', '.join(missing)}; found {', '.join(columns)} "
                        "(name them with --user-col / --item-col).")
    implicit = rating_col is None or rating_col not in columns
    has_time = time_col is not None and time_col in columns
    wanted = {user_col: LongType(), item_col: LongType()}
    if not implicit:
        wanted[rating_col] = DoubleType()
    if has_time:
        wanted[time_col] = LongType()
    if src.ratings_format == "csv":
        schema = StructType([StructField(c, wanted.get(c, StringType()), True) for c in columns])
        frame = (spark.read.option("header", True).option("mode", "FAILFAST").option("enforceSchema", False)
                 .schema(schema).csv(src.ratings))
    else:
        frame = spark.read.parquet(src.ratings)
    cols = [F.col(user_col).cast("long").alias("user"), F.col(item_col).cast("long").alias("item"),
            (F.lit(IMPLICIT_RATING) if implicit else F.col(rating_col).cast("double")).alias("rating")]
    if has_time:
        cols.append(F.col(time_col).cast("long").alias("ts"))
    used = {"user": user_col, "item": item_col}
    if not implicit:
        used["rating"] = rating_col
    if has_time:
        used["timestamp"] = time_col
    return frame.select(*cols), implicit, has_time, used, label


RATING_SCALE = 1000  # packed dedupe key: rating as an integer number of thousandths
RATING_BITS = 21     # ... offset into [0, 2**21): ratings in (-1048.576, 1048.576)
TS_BITS = 63 - RATING_BITS


def dedupe(log, has_time: bool, partitions: int, cached: list | None = None):
    """One row per (user, item): the latest timestamp, ties (or no timestamps) the highest rating.

    Repartitioned by user first, so every later per-user step (cap, self-join) needs no shuffle.
    With timestamps, (ts, rating) is packed into one long whose max is hash-aggregated, when that
    is exact for this log (every rating a whole number of thousandths, timestamps within 2**42 of
    each other; checked on the repartitioned log, which is then cached and appended to
    ``cached`` for the caller to unpersist); otherwise ``max(struct(ts, rating))``, which Spark
    can only sort-aggregate (several times slower).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    by_user = log.repartition(partitions, "user")
    if not has_time:
        return by_user.groupBy("user", "item").agg(F.max("rating").alias("rating"))
    in_range = F.abs(F.col("rating")) < F.lit(2 ** (RATING_BITS - 1) / RATING_SCALE)  # NaN: out of range
    code = F.when(in_range, F.round(F.col("rating") * RATING_SCALE)).cast("long")  # never overflows
    if cached is not None:
        by_user = by_user.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(by_user)
        exact = (F.when(F.col("rating").isNull(), True)
                 .when(in_range, code.cast("double") / RATING_SCALE == F.col("rating")).otherwise(False))
        check = by_user.agg(F.min("ts").alias("lo"), F.max("ts").alias("hi"), F.min(exact).alias("exact")).first()
        if check["exact"] and check["lo"] is not None and check["hi"] - check["lo"] < 2 ** TS_BITS:
            lo = int(check["lo"])
            key = F.shiftleft(F.col("ts") - F.lit(lo), RATING_BITS).bitwiseOR(code + F.lit(2 ** (RATING_BITS - 1)))
            best = by_user.groupBy("user", "item").agg(F.max(key).alias("k"))
            rating = ((F.col("k").bitwiseAND(F.lit(2 ** RATING_BITS - 1)) - F.lit(2 ** (RATING_BITS - 1)))
                      .cast("double") / RATING_SCALE)
            return best.select("user", "item", rating.alias("rating"),
                               (F.shiftright(F.col("k"), RATING_BITS) + F.lit(lo)).alias("ts"))
    best = F.max(F.struct(F.col("ts"), F.col("rating"))).alias("best")
    return by_user.groupBy("user", "item").agg(best).select(
        "user", "item", F.col("best.rating").alias("rating"), F.col("best.ts").alias("ts"))


def read_items(spark, src: LogSource, item_col: str):
    """The items table (item long, title string, genres string), or None without one."""
    from pyspark.sql import functions as F

    if src.items is None:
        return None
    label = src.items if src.cleanup is None or src.items != os.path.join(src.cleanup, "movies.csv") \
        else f"{src.source}:movies.csv"
    if src.items_format == "parquet":
        frame = spark.read.parquet(src.items)
    else:
        frame = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(src.items)
    id_col = next((c for c in (item_col, "movieId", "item_id", "itemId", "id") if c in frame.columns), None)
    if id_col is None or "title" not in frame.columns:
        raise DataError(f"Items table {label} needs an id column ({item_col}) and title; found "
                        f"{', '.join(frame.columns)}.")
    genres = F.col("genres").cast("string") if "genres" in frame.columns else F.lit("")
    return frame.select(F.col(id_col).cast("long").alias("item"), F.col("title").cast("string").alias("title"),
                        genres.alias("genres")).dropDuplicates(["item"])


# ---------------------------------------------------------------------------------------------
# The graph (SPEC's definition, steps 1-6)


def liked_rows(log, view: GraphParams, has_time: bool):
    """Steps 1-2: rows rated >= min_rating, each user's cap applied (latest first, ties by item id)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    liked = log.filter(F.col("rating") >= F.lit(view.min_rating))
    if view.max_user_items is not None:
        order = ([F.col("ts").desc()] if has_time else []) + [F.col("item").asc()]
        rank = F.row_number().over(Window.partitionBy("user").orderBy(*order))
        liked = liked.withColumn("_rank", rank).filter(F.col("_rank") <= view.max_user_items)
    return liked.select("user", "item")


def graph_edges(spark, log, view: GraphParams, has_time: bool):
    """Steps 1-6 for one view: a DataFrame (src, dst, weight), src < dst, not yet sorted.

    Returns ``(edges, counts)`` where counts holds ``liked`` (rows left) and ``items`` (n_x > 0).
    Raises EmptyGraphError when nothing is liked.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    liked = liked_rows(log, view, has_time)
    freq = liked.groupBy("item").agg(F.count(F.lit(1)).alias("n"))
    if view.min_item_users > 0:
        freq = freq.filter(F.col("n") >= view.min_item_users)
        liked = liked.join(F.broadcast(freq.select("item")), "item", "left_semi")
    freq = freq.persist()
    row = freq.agg(F.sum("n").alias("total"), F.count(F.lit(1)).alias("items"), F.min("item").alias("lo"),
                   F.max("item").alias("hi")).first()
    total = int(row["total"] or 0)
    if total == 0:
        freq.unpersist()
        if view.min_item_users > 0:
            raise EmptyGraphError(f"No item is liked by {view.min_item_users} users at min_rating "
                                  f"{view.min_rating:g}; lower min_item_users.")
        raise EmptyGraphError(f"No rating is >= min_rating {view.min_rating:g}; lower min_rating.")
    log_total = math.log(total)  # D, as a literal: the same float the numpy engine computes
    left = liked.select("user", F.col("item").alias("a"))
    right = liked.select("user", F.col("item").alias("b"))
    joined = left.join(right, "user").where(F.col("a") < F.col("b"))
    if 0 <= row["lo"] and row["hi"] < 2**31:
        # One 64-bit key per pair: a cheaper hash, a smaller shuffle row than two columns.
        key = F.shiftleft(F.col("a"), 32).bitwiseOR(F.col("b"))
        pairs = (joined.select(key.alias("k")).groupBy("k").agg(F.count(F.lit(1)).alias("n_ab"))
                 .select(F.shiftright(F.col("k"), 32).alias("a"), F.col("k").bitwiseAND(F.lit(0xFFFFFFFF)).alias("b"),
                         "n_ab"))
    else:
        pairs = joined.groupBy("a", "b").agg(F.count(F.lit(1)).alias("n_ab"))
    n_a = F.broadcast(freq.select(F.col("item").alias("a"), F.col("n").alias("n_a")))
    n_b = F.broadcast(freq.select(F.col("item").alias("b"), F.col("n").alias("n_b")))
    # The order of operations of SPEC step 5: (log n_ab - log n_a - log n_b + D) * n_ab, float64.
    # log(n_a) + log(n_b) first: symmetric, so pairs tied in exact arithmetic tie exactly (as in numpy).
    weight = ((F.log(F.col("n_ab").cast("double"))
               - (F.log(F.col("n_a").cast("double")) + F.log(F.col("n_b").cast("double")))
               + F.lit(log_total)) * F.col("n_ab").cast("double"))
    edges = (pairs.join(n_a, "a").join(n_b, "b")
             .select(F.col("a").alias("src"), F.col("b").alias("dst"), weight.alias("weight"))
             .where((F.col("weight") >= F.lit(view.min_weight)) & (F.col("weight") > F.lit(0.0))))
    if view.max_degree is not None:
        both = edges.select("src", F.col("dst").alias("nbr"), "weight").unionByName(
            edges.select(F.col("dst").alias("src"), F.col("src").alias("nbr"), "weight"))
        rank = F.row_number().over(Window.partitionBy("src").orderBy(F.col("weight").desc(), F.col("nbr").asc()))
        edges = (both.withColumn("_rank", rank).where(F.col("_rank") <= view.max_degree)
                 .select(F.least("src", "nbr").alias("src"), F.greatest("src", "nbr").alias("dst"), "weight")
                 .dropDuplicates(["src", "dst"]))
    return edges, {"liked": total, "items": int(row["items"]), "freq": freq}


# ---------------------------------------------------------------------------------------------
# Writing the graph directory


def _check_target(fs: HadoopFS, out: str) -> bool:
    """True when ``out`` exists (and is a recgraph graph directory or empty); refuse anything else."""
    if not fs.exists(out):
        return False
    if not fs.is_dir(out):
        raise ParameterError(f"{out} exists and is a file; --out must be a graph directory (new or recgraph's).")
    names = fs.list_names(out)
    if not names:
        return True
    if MANIFEST_FILE in names:
        try:
            manifest = json.loads(fs.read_text(_join(out, MANIFEST_FILE)))
        except (ValueError, TypeError):
            manifest = {}
        if isinstance(manifest, dict) and manifest.get("kind") == "recgraph-graph":
            return True
    raise ParameterError(f"{out} exists and is not a recgraph graph directory; refusing to replace it "
                         "(choose another --out or remove it).")


def _clean_parts(fs: HadoopFS, directory: str) -> None:
    """Drop the local checksum files and markers Hadoop writes beside parts (readers skip them anyway)."""
    for rel, _size in fs.files(directory):
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(".crc") or name == "_SUCCESS":
            fs.raw.delete(fs.path(_join(directory, rel)), False)


def _file_table(fs: HadoopFS, directory: str) -> dict:
    table = {}
    for rel, size in fs.files(directory):
        entry = {"size": size, "sha256": None}
        if fs.local:
            local = fs.fs.pathToFile(fs.path(_join(directory, rel))).getAbsolutePath()
            digest = hashlib.sha256()
            with open(local, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            entry["sha256"] = digest.hexdigest()
        table[rel] = entry
    return table


def build_graph_spark(source, out_dir, views: Sequence, *, user_col: str = "userId", item_col: str = "movieId",
                      rating_col: str | None = "rating", time_col: str | None = "timestamp",
                      items: str | None = None, master: str = "local[*]", spark_conf: Mapping | None = None,
                      shuffle_partitions: int | None = None, driver_memory: str | None = None,
                      spark=None) -> dict:
    """Build every view's graph on Spark and write the graph directory ``out_dir``.

    Parameters
    ----------
    source : ratings log: CSV or Parquet file or directory of parts, a MovieLens directory or local
        .zip (ratings.csv + movies.csv); any path Spark reads (local, s3a://, hdfs://).
    out_dir : graph directory to write; replaced atomically when it is recgraph's, refused otherwise.
    views : GraphParams-like dicts (min_rating, min_weight, min_item_users, max_degree,
        max_user_items); view 0 is ``edges.parquet``, view N ``edges-N.parquet``.
    user_col, item_col, rating_col, time_col : the log's column names; a rating column the log
        lacks means implicit feedback (every row rated 5.0), a time column it lacks, no timestamps.
    items : items table (id, title[, genres]); default: the MovieLens directory's movies.csv.
    master, spark_conf, shuffle_partitions, driver_memory : how Spark runs (docs/spark.md);
        ``shuffle_partitions`` also sets the number of user partitions of the log.
    spark : an existing SparkSession to use (left running); default: start one, stop it after.

    Returns
    -------
    dict
        The manifest written to ``out_dir/manifest.json``.
    """
    checked_views = [view_params(v) for v in views]
    if not checked_views:
        raise ParameterError("views is empty; give at least one graph view's parameters.")
    for name, value in (("user_col", user_col), ("item_col", item_col)):
        if not isinstance(value, str) or not value:
            raise ParameterError(f"{name} must be a column name; got {value!r}.")
    if shuffle_partitions is not None and (isinstance(shuffle_partitions, bool) or not isinstance(shuffle_partitions, int)
                                           or shuffle_partitions < 1):
        raise ParameterError(f"shuffle_partitions must be an integer >= 1; got {shuffle_partitions!r}.")
    out = os.fspath(out_dir)
    own = False
    if spark is None:
        spark, own = _open_session(master, spark_conf, shuffle_partitions, driver_memory)
    src = None
    try:
        errors = _spark_errors()
        try:
            src = resolve_source(spark, os.fspath(source), items)
            return _build(spark, src, out, checked_views, user_col, item_col, rating_col, time_col, shuffle_partitions)
        except errors as exc:
            raise _spark_failure(exc, "building the graph", os.fspath(source)) from None
    finally:
        if src is not None and src.cleanup:
            shutil.rmtree(src.cleanup, ignore_errors=True)
        if own:
            try:
                spark.stop()
            except Exception:  # a JVM already gone: nothing left to stop
                pass


#: Input bytes per user partition when --shuffle-partitions is not given (docs/spark.md).
AUTO_BYTES_PER_PARTITION = {"csv": 64 << 20, "parquet": 16 << 20}


def _auto_partitions(spark, src: LogSource) -> int:
    """Partitions for the log and every shuffle: the session's setting when someone set it,
    else one per 64 MiB of CSV (16 MiB of Parquet), at least 2 per core, at most 4,000."""
    configured = spark.conf.get("spark.sql.shuffle.partitions")
    if configured != "200":  # Spark's default: nobody chose it
        return int(configured)
    try:
        fs = HadoopFS(spark, src.ratings)
        size = int(fs.fs.getContentSummary(fs.path(src.ratings)).getLength())
    except Exception:  # a file system that cannot sum sizes: fall back to the cores
        size = 0
    cores = int(spark.sparkContext.defaultParallelism)
    return max(2 * cores, min(4000, -(-size // AUTO_BYTES_PER_PARTITION[src.ratings_format])))


def _build(spark, src: LogSource, out: str, views: list[GraphParams], user_col, item_col, rating_col, time_col,
           shuffle_partitions) -> dict:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    started = time.perf_counter()
    timings = {}
    partitions = shuffle_partitions or _auto_partitions(spark, src)
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    raw, implicit, has_time, used, label = read_log(spark, src, user_col, item_col, rating_col, time_col)
    titles = read_items(spark, src, item_col)
    out_fs = HadoopFS(spark, out)
    out = out_fs.qualified(out) if not out_fs.local else os.path.abspath(out.replace("file://", "", 1))
    replace = _check_target(out_fs, out)
    raw_cached: list = []
    log = dedupe(raw, has_time, partitions, raw_cached).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # Per user first: the log is partitioned by user, so this needs no shuffle of the log.
        empty = F.col("item").isNull() | F.col("rating").isNull() | F.col("user").isNull()
        stats = (log.groupBy("user").agg(F.count(F.lit(1)).alias("c"),
                                         F.sum(F.when(empty, 1).otherwise(0)).alias("e"))
                 .agg(F.sum("c").alias("rows"), F.count(F.lit(1)).alias("users"), F.sum("e").alias("empty"))
                 .first())
        for frame in raw_cached:
            frame.unpersist()
        if not stats["rows"]:
            raise DataError(f"{label} has a header but no rows.")
        if stats["empty"]:
            raise DataError(f"{label} has {stats['empty']:,} row(s) with an empty user, item or rating; "
                            "fill or drop them.")
        timings["load"] = round(time.perf_counter() - started, 3)
        parent, name = out.rstrip("/").rsplit("/", 1) if "/" in out.rstrip("/") else (".", out.rstrip("/"))
        tmp = _join(parent, f".{name}.tmp-{uuid.uuid4().hex[:12]}")
        out_fs.mkdirs(parent)
        try:
            manifest_views = []
            for i, view in enumerate(views):
                t0 = time.perf_counter()
                edges, counts = graph_edges(spark, log, view, has_time)
                edges = edges.persist(StorageLevel.MEMORY_AND_DISK)
                try:
                    row = edges.agg(F.count(F.lit(1)).alias("edges")).first()
                    n_edges = int(row["edges"])
                    if n_edges == 0:
                        raise EmptyGraphError(
                            f"View {i} (min_rating {view.min_rating:g}, min_weight {view.min_weight:g}) has no edge: "
                            "no item pair reaches min_weight; lower min_weight or min_rating.")
                    nodes = edges.select(F.col("src").alias("x")).union(edges.select(F.col("dst").alias("x"))) \
                        .distinct().count()
                    edges.orderBy("src", "dst").write.parquet(_join(tmp, edges_file(i)))
                finally:
                    edges.unpersist()
                    counts["freq"].unpersist()
                stat = {"nodes": int(nodes), "edges": n_edges, "avg_degree": round(2.0 * n_edges / nodes, 1)}
                manifest_views.append({"params": asdict(view), "stats": stat, "edges": edges_file(i)})
                timings[f"view_{i}"] = round(time.perf_counter() - t0, 3)
                logger.info("view %d: %d nodes, %d edges, average degree %.1f (%.1f s)", i, stat["nodes"],
                            stat["edges"], stat["avg_degree"], timings[f"view_{i}"])
            t0 = time.perf_counter()
            likes = log.where(F.col("rating") >= F.lit(LIKES_MIN_RATING)).groupBy("item") \
                .agg(F.count(F.lit(1)).alias("likes"))
            item_rows = log.select("item").distinct().join(likes, "item", "left")
            if titles is not None:
                item_rows = item_rows.join(titles, "item", "left")
                title = F.coalesce(F.col("title"), F.concat(F.lit("item "), F.col("item").cast("string")))
                genres = F.coalesce(F.col("genres"), F.lit(""))
            else:
                title = F.concat(F.lit("item "), F.col("item").cast("string"))
                genres = F.lit("")
            (item_rows.select(F.col("item").alias("item_id"), title.alias("title"), genres.alias("genres"),
                              F.coalesce(F.col("likes"), F.lit(0)).cast("long").alias("likes"))
             .coalesce(1).sortWithinPartitions("item_id").write.parquet(_join(tmp, ITEMS_FILE)))
            n_items = spark.read.parquet(_join(tmp, ITEMS_FILE)).count()  # from the footers
            timings["items"] = round(time.perf_counter() - t0, 3)
            _clean_parts(out_fs, tmp)
            timings["total"] = round(time.perf_counter() - started, 3)
            manifest = {
                "kind": "recgraph-graph", "format_version": 1, "engine": ENGINE, "recgraph_version": __version__,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "data": {"source": src.source, "md5": src.md5, "implicit": implicit,
                         "has_titles": titles is not None, "columns": used, "rows": int(stats["rows"]),
                         "users": int(stats["users"]), "items": int(n_items)},
                "views": manifest_views, "items": ITEMS_FILE, "timings_s": timings,
                "spark": {"master": spark.sparkContext.master, "version": spark.version,
                          "shuffle_partitions": int(spark.conf.get("spark.sql.shuffle.partitions")),
                          "log_partitions": partitions},
                "files": _file_table(out_fs, tmp),
            }
            out_fs.write_bytes(_join(tmp, MANIFEST_FILE), (json.dumps(manifest, indent=2) + "\n").encode())
            _clean_parts(out_fs, tmp)
            _swap_in(out_fs, tmp, out, replace)
        except BaseException:
            if out_fs.exists(tmp):
                out_fs.delete(tmp)
            raise
    finally:
        log.unpersist()
    return manifest


def _swap_in(fs: HadoopFS, tmp: str, out: str, replace: bool) -> None:
    """Rename the finished temporary directory over ``out`` (the old one goes only after)."""
    if not replace:
        fs.rename(tmp, out)
        return
    head, _, tail = tmp.rpartition(".tmp-")
    old = f"{head}.old-{tail}"
    fs.rename(out, old)
    try:
        fs.rename(tmp, out)
    except BaseException:
        fs.rename(old, out)
        raise
    fs.delete(old)


# ---------------------------------------------------------------------------------------------
# Command line (the lead wires these into `recgraph graph --engine spark`)


def add_spark_arguments(parser: argparse.ArgumentParser) -> None:
    """The Spark engine's own options: --master, --spark-conf, --shuffle-partitions, --driver-memory."""
    g = parser.add_argument_group("spark engine (--engine spark; docs/spark.md)")
    g.add_argument("--master", default="local[*]",
                   help="Spark master: local[*] (this machine, every core), local[N], spark://HOST:PORT, yarn "
                        "(default local[*])")
    g.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting, repeatable (e.g. spark.executor.memory=8g)")
    g.add_argument("--shuffle-partitions", type=int, default=None,
                   help="spark.sql.shuffle.partitions and the log's user partitions (default: one per 64 MiB of CSV "
                        "or 16 MiB of Parquet, at least 2 per core; docs/spark.md says how to size it)")
    g.add_argument("--driver-memory", default=None,
                   help="driver JVM heap, e.g. 8g (local mode: the whole job runs in it)")
