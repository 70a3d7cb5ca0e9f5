"""The command line's commands: one module each with ``add_parser(sub)`` and ``run(args)``.

:mod:`recgraph.cli` only dispatches; the flag tables commands share are in
:mod:`recgraph.commands.flags`. A command's module is imported when it is registered,
and each imports the library only inside ``run``, so ``recgraph --help`` stays fast.
"""

from __future__ import annotations

#: Command name -> module (under recgraph.commands) holding its add_parser and run.
COMMAND_MODULES = {
    "train": "train",
    "graph": "graph",
    "evaluate": "evaluate",
    "compare": "compare",
}
