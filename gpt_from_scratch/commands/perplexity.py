"""``gpt-from-scratch perplexity``: perplexity of any causal LM on a ``datasets`` split, with sliding windows.

Example (needs the Hub)::

    gpt-from-scratch perplexity --model gpt2 --dataset wikitext --dataset-config wikitext-2-raw-v1 \\
        --split test --max-length 1024 --stride 512 --batch-size 4 --output-json results/
"""

from __future__ import annotations

import argparse

from ..checkpoint import add_loading_arguments, load_causal_lm_from_args
from ..data import add_data_arguments, load_text_dataset_from_args
from ..perplexity import DEFAULT_SEPARATOR, compute_perplexity, save_results


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {number}")
    return number


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, help="local checkpoint directory or Hub id of any causal LM (ours, gpt2, ...)"
    )
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory or Hub id (default: --model's)")
    add_loading_arguments(parser)
    add_data_arguments(parser, default_split="test")
    parser.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="use only the first N rows")
    parser.add_argument(
        "--per-document",
        action="store_true",
        help=f"score each row on its own instead of joining the rows with {DEFAULT_SEPARATOR!r} into one stream",
    )
    parser.add_argument(
        "--add-start-token",
        action="store_true",
        help="put the tokenizer's BOS token before each sequence so its first token is scored too",
    )
    parser.add_argument(
        "--max-length", type=_positive_int, default=None, help="window length in tokens (default: the model's maximum)"
    )
    parser.add_argument(
        "--stride",
        type=_positive_int,
        default=None,
        help="tokens between window starts; each token after the first is scored once, with at least "
        "max-length - stride tokens of context (default: max-length // 2; max-length: non-overlapping windows)",
    )
    parser.add_argument("--batch-size", type=_positive_int, default=4, help="windows per forward pass (default: 4)")
    parser.add_argument(
        "--output-json",
        default=None,
        metavar="PATH",
        help="record the results with evaluate.save: a .json file, or a directory for a timestamped result-*.json",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    dataset = load_text_dataset_from_args(args)
    if args.limit is not None:
        dataset = dataset.select(range(min(args.limit, len(dataset))))
    texts = dataset[args.text_column]
    model, tokenizer = load_causal_lm_from_args(args.model, args, tokenizer_name_or_path=args.tokenizer)
    result = compute_perplexity(
        model,
        tokenizer,
        texts,
        max_length=args.max_length,
        stride=args.stride,
        batch_size=args.batch_size,
        per_document=args.per_document,
        add_start_token=args.add_start_token,
        progress=not args.no_progress,
    )

    source = ", ".join(part for part in (args.dataset, args.dataset_config, args.split) if part)
    print(f"model: {args.model} ({type(model).__name__}, {model.dtype}, {model.device})")
    print(f"data: {source}, {len(texts)} rows" + (", per document" if args.per_document else ""))
    print(f"windows: {result.windows} of up to {result.max_length} tokens, stride {result.stride}")
    print(f"tokens scored: {result.tokens:,}")
    print(f"loss (mean NLL): {result.loss:.4f} nats/token")
    print(f"perplexity: {result.perplexity:.4f}")
    print(f"bits per byte: {result.bits_per_byte:.4f} ({result.bytes:,} bytes)")
    if result.word_perplexity is not None:
        print(f"word perplexity: {result.word_perplexity:.4f} ({result.words:,} words)")

    if args.output_json:
        record = {
            **result.to_dict(),
            "model": args.model,
            "tokenizer": args.tokenizer or args.model,
            "dataset": args.dataset,
            "dataset_config": args.dataset_config,
            "split": args.split,
            "data_files": args.data_files,
            "text_column": args.text_column,
            "rows": len(texts),
            "per_document": args.per_document,
            "add_start_token": args.add_start_token,
            "batch_size": args.batch_size,
            "dtype": str(model.dtype).removeprefix("torch."),
            "device": str(model.device),
        }
        print(f"results: {save_results(args.output_json, record)}")
    return 0
