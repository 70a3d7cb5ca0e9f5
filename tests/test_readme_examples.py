"""The README's example output is what its main-job command prints today.

The command is read from README.md's first ```bash block (the ``python scripts/train.py``
part of it), run with ``--out`` pointed at a temporary directory, and its output compared
with the "What it prints" block: the graph line, and for every movie the block shows, the
top 5 in order (titles exactly, cosine scores to the 3 decimals printed, within 0.002).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SCORE_TOLERANCE = 0.002


def _blocks(text: str, language: str) -> list[tuple[int, str]]:
    """``(offset, body)`` of every fenced block of ``language``."""
    return [(m.start(), m.group(1)) for m in re.finditer(rf"^```{language}\n(.*?)^```", text, re.S | re.M)]


def readme_command() -> list[str]:
    """The main-job command of README.md's first ```bash block, as argv."""
    _, body = _blocks(README.read_text(encoding="utf-8"), "bash")[0]
    for part in body.replace("\\\n", " ").split("&&"):
        argv = shlex.split(part)
        if argv[:2] in (["python", "scripts/train.py"], ["python3", "scripts/train.py"]):
            return argv
    raise AssertionError("README.md's first bash block has no 'python scripts/train.py' command")


def readme_output() -> str:
    """The ```text block that follows README.md's "What it prints" heading."""
    text = README.read_text(encoding="utf-8")
    heading = text.find("What it prints")
    assert heading >= 0, "README.md has no 'What it prints' section"
    after = [body for start, body in _blocks(text, "text") if start > heading]
    assert after, "README.md's 'What it prints' section has no ```text block"
    return after[0]


def parse_output(text: str) -> tuple[str | None, dict[str, list[tuple[float, str]]]]:
    """The graph line and ``{query title: [(score, title), ...]}`` of train's summary."""
    graph = next((line.strip() for line in text.splitlines() if line.startswith("graph: ")), None)
    tops: dict[str, list[tuple[float, str]]] = {}
    current = None
    for line in text.splitlines():
        hit = re.match(r"^\s+(-?\d+\.\d+)\s+(.+?)\s*$", line)
        if hit and current is not None:
            tops[current].append((float(hit.group(1)), hit.group(2)))
        elif line.endswith(":") and not line.startswith(" "):
            current = line[:-1]
            tops[current] = []
        else:
            current = None
    return graph, {title: hits for title, hits in tops.items() if hits}


def test_readme_command_is_the_main_job():
    argv = readme_command()
    assert "--seed" in argv and "--out" in argv and "--data" in argv


def test_parse_output_reads_the_summary():
    graph, tops = parse_output("graph: 3 nodes, 2 edges, average degree 1.3\ntimings (s): load 0.1\n\n"
                               "A (1990):\n  0.900  B (1991)\n  0.800  C (1992)\n\nD (2000): not in the graph\n")
    assert graph == "graph: 3 nodes, 2 edges, average degree 1.3"
    assert tops == {"A (1990)": [(0.9, "B (1991)"), (0.8, "C (1992)")]}


@pytest.mark.slow
def test_readme_output_is_what_the_command_prints(ml_small_path, tmp_path):
    argv = readme_command()
    argv[argv.index("--out") + 1] = str(tmp_path / "artifact")
    argv[0] = sys.executable
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    shown_graph, shown = parse_output(readme_output())
    printed_graph, printed = parse_output(proc.stdout)
    assert shown, "the README's 'What it prints' block shows no top-5 list"
    assert shown_graph == printed_graph
    for title, hits in shown.items():
        assert title in printed, f"the command printed no list for {title}"
        got = printed[title]
        assert [t for _, t in got] == [t for _, t in hits], f"{title}: README {hits}, printed {got}"
        for (want, _), (have, _) in zip(hits, got):
            assert abs(want - have) <= SCORE_TOLERANCE, f"{title}: README {hits}, printed {got}"


def _commented_arrays(body: str) -> list[list[list[float]]]:
    """The arrays a code block shows in comments (``# ids [[1 2] ...`` and continuation lines
    ``#  [3 4]]``), each as a list of rows."""
    arrays: list[list[list[float]]] = []
    for line in body.splitlines():
        match = re.match(r"\s*#\s*(ids|scores)?\s*(\[\[?[^\]]*\]\]?)", line)
        if not match:
            continue
        row = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", match.group(2))]
        if match.group(1):
            arrays.append([row])
        elif arrays:
            arrays[-1].append(row)
    return arrays


@pytest.mark.slow
def test_readme_python_example_prints_what_it_shows(tmp_path):
    """The README's Python block, run as written (its save path moved to a temporary directory):
    the arrays in its comments are what the model returns."""
    import numpy as np

    (body,) = [b for _, b in _blocks(README.read_text(encoding="utf-8"), "python") if "Recommender(" in b][:1]
    code = body.replace('"artifacts/ml-model"', repr(str(tmp_path / "model")))
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own example
    model = namespace["model"]
    ids, scores = model.similar_items([260, 364], n=3)
    recommended, _ = model.recommend([[260, 1196, 1210], [1, 364, 588]], n=5)
    shown = _commented_arrays(body)
    assert len(shown) == 3
    assert ids.tolist() == shown[0]
    assert np.allclose(scores, shown[1], atol=1e-6)
    assert recommended.tolist() == shown[2]
