"""``recgraph similar`` and ``recgraph recommend``: query an artifact from the command line.

``--json`` prints the envelope of :meth:`recgraph.index.Similar.to_dict` /
:meth:`recgraph.index.Recommendations.to_dict`, the same JSON the HTTP service answers.
Items of a recommend request that are not in the index are reported (``unknown``, and one
line each on stderr in the table), not fatal, unless ``--strict``.
"""

from __future__ import annotations

import argparse
import json
import sys


def _add_query_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", required=True, help="artifact directory written by 'recgraph train'")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true",
                   help="print the JSON envelope (the HTTP service's answer) instead of a table")


def add_similar_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("similar", help="items similar to one item", description="Items similar to one item.")
    p.add_argument("item", help="item id or exact title, e.g. 'Toy Story (1995)'")
    _add_query_args(p)
    return p


def add_recommend_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("recommend", help="recommendations from a watch history",
                       description="Recommend items for someone who watched the given ones. Items not in the "
                                   "index are reported and left out, unless --strict.")
    p.add_argument("--watched", nargs="+", required=True,
                   help="item ids or titles, oldest first (an artifact with recency scoring weighs the last ones more)")
    p.add_argument("--exclude", nargs="*", default=[], help="item ids or titles never to return")
    p.add_argument("--strict", action="store_true",
                   help="fail on a watched or excluded item that is not in the index instead of reporting it")
    _add_query_args(p)
    return p


def run_similar(args: argparse.Namespace) -> int:
    from ..index import ItemIndex

    index = ItemIndex.load(args.index)
    _print(index.similar(item_ref(args.item), k=args.k), args.json)
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    from ..index import ItemIndex

    index = ItemIndex.load(args.index)
    answer = index.recommend([item_ref(m) for m in args.watched], k=args.k,
                             exclude=[item_ref(m) for m in args.exclude], strict=args.strict)
    if not args.json:
        for item in answer.unknown:
            print(f"recgraph: note: left out: {index.explain(item)}", file=sys.stderr)
    _print(answer, args.json)
    return 0


def _print(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return
    for rank, hit in enumerate(answer.hits, 1):
        print(f"{rank:>3}  {hit.score:.3f}  {hit.item_id:>7}  {hit.title}")


def item_ref(text: str):
    """An item id when the text is ASCII digits, else a title (digits past a 64-bit id stay
    text, which the index names as no id of its own rather than parsing 5,000 digits)."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and len(stripped.lstrip("0")) <= 19:
        return int(stripped)
    return text
