"""The ``gpt-from-scratch`` command line.

Each subcommand lives in its own module (``gpt_from_scratch/commands/``) with ``configure_parser(parser)``
and ``run(args) -> int``; this module only builds the parser and maps user errors to exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("gpt_from_scratch.commands.demo", "run the end-to-end example on built-in data (no network)"),
    "train": ("gpt_from_scratch.commands.train", "pretrain or fine-tune with the transformers Trainer"),
    "convert": ("gpt_from_scratch.commands.convert", "import weights from the book, GPT-2 or nanoGPT; export to GPT-2"),
    "perplexity": ("gpt_from_scratch.commands.perplexity", "perplexity of any causal LM on a datasets split"),
    "push": ("gpt_from_scratch.commands.push", "upload a checkpoint with its code and a model card to the Hub"),
    "generate": ("gpt_from_scratch.commands.generate", "continue a prompt with a checkpoint, streaming the text"),
}

# Errors a user can cause and fix: reported in one line, exit status 2. Anything else is a bug and
# keeps its traceback. GPT_FROM_SCRATCH_DEBUG=1 shows tracebacks for user errors too.
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, PermissionError, KeyError)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (exit status 2), pointing at ``--help``."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gpt-from-scratch",
        description="The GPT of 'Build a Large Language Model (From Scratch)' as a transformers model.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        importlib.import_module(module_name).configure_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except USER_ERRORS as error:
        if os.environ.get("GPT_FROM_SCRATCH_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"gpt-from-scratch {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gpt-from-scratch {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
