"""The command line's commands: one module each with ``add_parser(sub)`` and ``run(args)``.

:mod:`recgraph.cli` only dispatches; the flag tables commands share are in
:mod:`recgraph.commands.flags`. A command's module is imported when it is registered,
and each imports the library only inside ``run``, so ``recgraph --help`` stays fast.
"""

#: The commands here; ``serve`` lives in recgraph.serve and is registered by recgraph.cli.
__all__ = ["compare", "evaluate", "flags", "graph", "query", "train"]
