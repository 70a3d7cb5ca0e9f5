"""The CLI's commands: each module adds its sub-parsers and runs them; :mod:`recgraph.cli` only dispatches."""
