"""Subcommands of the ``gpt-from-scratch`` CLI: each module has ``configure_parser(parser)`` and ``run(args)``."""
