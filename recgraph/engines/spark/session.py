"""The Spark session: dependency checks (PySpark, Java), the master URL, quiet logs, start and stop.

Every failure to start is one sentence naming what to install or what is wrong; the JVM's
own output goes to :func:`spark_log_path`, never to the terminal.

>>> spark = spark_session("local[2]", shuffle_partitions=4, driver_memory="2g")
>>> stop_spark(spark)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import warnings
from typing import Mapping

from ...errors import MissingDependencyError, ParameterError
from .failures import SparkEngineError, one_line

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


def import_pyspark():
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
    return open_session(master, spark_conf, shuffle_partitions, driver_memory, app_name)[0]


def open_session(master: str, spark_conf: Mapping[str, str] | None, shuffle_partitions: int | None,
                 driver_memory: str | None, app_name: str = "recgraph-graph"):
    """(session, True when this call started it)."""
    master = check_master(master)
    import_pyspark()
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
        raise SparkEngineError(f"Spark did not start with master {master!r}: {one_line(exc)} "
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
