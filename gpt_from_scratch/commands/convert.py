"""``gpt-from-scratch convert``: bring weights in from the book, OpenAI GPT-2 or nanoGPT, or export to
a stock transformers GPT-2 checkpoint. The work is :mod:`gpt_from_scratch.conversion`'s."""

from __future__ import annotations

import argparse

from ..configuration_gpt import PRESETS, GPTConfig
from ..conversion import SOURCE_FORMATS, TARGET_FORMATS, export_checkpoint, import_checkpoint, load_book_config

EPILOG = """examples:
  gpt-from-scratch convert model.pth out/ --from book --preset 124M
  gpt-from-scratch convert model_and_optimizer.pth out/ --from book --config gpt_config.json
  gpt-from-scratch convert openai-community/gpt2 out/ --from gpt2
  gpt-from-scratch convert nanogpt/out/ckpt.pt out/ --from nanogpt
  gpt-from-scratch convert out/ out-gpt2/ --to gpt2
"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "src",
        metavar="SRC",
        help="--from book: a .pth state dict; --from gpt2: a GPT-2 directory or Hub id; "
        "--from nanogpt: ckpt.pt (or its directory); --to gpt2: a gpt-from-scratch checkpoint directory",
    )
    parser.add_argument("out", metavar="OUT", help="checkpoint directory to write (replaced atomically)")
    direction = parser.add_mutually_exclusive_group(required=True)
    direction.add_argument(
        "--from", dest="source_format", choices=SOURCE_FORMATS, help="import SRC into a gpt-from-scratch checkpoint"
    )
    direction.add_argument(
        "--to",
        dest="target_format",
        choices=TARGET_FORMATS,
        help="export a gpt-from-scratch checkpoint to a stock format",
    )
    parser.add_argument("--revision", help="--from gpt2 with a Hub id: the branch, tag or commit hash to read (default: main)")
    architecture = parser.add_mutually_exclusive_group()
    architecture.add_argument(
        "--config", metavar="FILE", help="--from book: JSON with the book's config keys (emb_dim, n_layers, ...)"
    )
    architecture.add_argument(
        "--preset", choices=sorted(PRESETS), help="--from book: a named config instead of --config"
    )


def run(args: argparse.Namespace) -> int:
    if args.target_format is not None:
        if args.config or args.preset:
            raise ValueError("--config/--preset apply to --from book only: a checkpoint to export carries its config")
        if args.revision:
            raise ValueError("--revision applies to --from gpt2 with a Hub id: --to exports a local checkpoint directory")
        model = export_checkpoint(args.src, args.out, args.target_format)
    else:
        config = None
        if args.config:
            config = load_book_config(args.config)
        elif args.preset:
            config = GPTConfig.from_preset(args.preset)
        model = import_checkpoint(args.src, args.out, args.source_format, config=config, revision=args.revision)
    print(f"wrote {args.out}: {type(model).__name__}, {model.num_parameters():,} parameters")
    return 0
