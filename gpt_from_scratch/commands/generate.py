"""``gpt-from-scratch generate MODEL PROMPT``: continue a prompt with a checkpoint, streaming the text."""

from __future__ import annotations

import argparse
from typing import Any

from ..checkpoint import add_loading_arguments, load_causal_lm_from_args
from ..generation import generate_text

SAMPLING_OPTIONS = ("temperature", "top_k", "top_p")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="checkpoint directory or Hub model id")
    parser.add_argument("prompt", metavar="PROMPT", help="text to continue")
    parser.add_argument("--max-new-tokens", type=int, default=50, help="tokens to generate at most (default: 50)")
    parser.add_argument(
        "--do-sample",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sample instead of greedy decoding (default: the model's generation config, else greedy; "
        "--temperature, --top-k and --top-p imply --do-sample)",
    )
    parser.add_argument("--temperature", type=float, help="divide the logits by this before sampling")
    parser.add_argument("--top-k", type=int, help="sample among the K most likely tokens only")
    parser.add_argument("--top-p", type=float, help="sample among the most likely tokens whose probabilities sum to P")
    parser.add_argument("--repetition-penalty", type=float, help="penalise tokens already in the text (1.0: none)")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible sampling")
    parser.add_argument(
        "--crop-to-context",
        action="store_true",
        help="when the text outgrows the model's context, keep only its last context_length tokens at each step, "
        "as the book's generate_text_simple does (default: refuse requests that do not fit)",
    )
    parser.add_argument("--no-stream", dest="stream", action="store_false", help="print the text only once it is complete")
    add_loading_arguments(parser)


def _generate_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The decoding options the user set; the model's generation config supplies the others."""
    kwargs = {
        name: getattr(args, name)
        for name in (*SAMPLING_OPTIONS, "repetition_penalty", "do_sample")
        if getattr(args, name) is not None
    }
    if "do_sample" not in kwargs and any(name in kwargs for name in SAMPLING_OPTIONS):
        kwargs["do_sample"] = True
    if args.crop_to_context:
        kwargs["crop_to_context"] = True
    return kwargs


def run(args: argparse.Namespace) -> int:
    model, tokenizer = load_causal_lm_from_args(args.model, args)
    text = generate_text(
        model,
        tokenizer,
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        stream=args.stream,
        **_generate_kwargs(args),
    )
    if not args.stream:
        print(text)
    return 0
