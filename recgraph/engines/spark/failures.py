"""Spark's exceptions (Py4J, PySpark, the JVM's) as one project error sentence each."""

from __future__ import annotations

import re

from ...errors import DataError, RecgraphError


class SparkEngineError(RecgraphError, RuntimeError):
    """Spark could not start or a Spark job failed; the message says why in one sentence."""


def one_line(exc: BaseException) -> str:
    """The first useful line of a Java/PySpark exception, without the stack trace."""
    java = getattr(exc, "java_exception", None)
    text: str | None
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


def spark_failure(exc: BaseException, doing: str, source: str | None = None) -> RecgraphError:
    """Translate a Py4J/PySpark exception into one project error sentence."""
    text = one_line(exc)
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


def spark_errors():
    """The exception types that mean 'Spark said no' (PySpark, Py4J)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (Py4JError, PySparkException)
