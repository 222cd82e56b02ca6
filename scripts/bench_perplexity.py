#!/usr/bin/env python
"""Sliding-window scoring speed: our model against stock transformers GPT-2 with the same weights.

Both models score the same random token ids through the same windows
(:func:`gpt_from_scratch.perplexity.score_tokens`); the script prints tokens scored per second for
each batch size and checks that the two total NLLs agree.

    python scripts/bench_perplexity.py --preset tiny
    python scripts/bench_perplexity.py --preset gpt2-small --device cuda --dtype bfloat16 --tokens 65536
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gpt_from_scratch import PRESETS, GPTConfig, GPTForCausalLM
from gpt_from_scratch.checkpoint import DTYPES, resolve_device
from gpt_from_scratch.conversion import gpt2_from_gpt
from gpt_from_scratch.perplexity import score_tokens


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="model size (default: tiny)")
    parser.add_argument("--tokens", type=int, default=8192, help="length of the scored sequence (default: 8192)")
    parser.add_argument("--max-length", type=int, default=None, help="window length (default: the model's context)")
    parser.add_argument("--stride", type=int, default=None, help="window stride (default: max-length // 2)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8], help="windows per forward (default: 1 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the median is kept")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32", choices=[name for name in DTYPES if name != "auto"])
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def tokens_per_second(model, ids, max_length, stride, batch_size, repeats) -> tuple[float, float]:
    """Median tokens scored per second over ``repeats`` runs (after one warm-up), and the total NLL."""
    device = next(model.parameters()).device
    timings = []
    for run in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        (scores,) = score_tokens(model, [ids], max_length=max_length, stride=stride, batch_size=batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if run:  # the first run warms up kernels and caches
            timings.append(time.perf_counter() - start)
    return int(scores.scored.sum()) / statistics.median(timings), float(scores.nll[scores.scored].sum())


def main() -> None:
    args = parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    config = GPTConfig.from_preset(args.preset, drop_rate=0.0)
    ours = GPTForCausalLM(config).eval()
    stock = gpt2_from_gpt(ours).eval()
    ours.to(device, DTYPES[args.dtype])
    stock.to(device, DTYPES[args.dtype])
    max_length = args.max_length or config.context_length
    stride = args.stride or max(1, max_length // 2)
    ids = torch.randint(0, config.vocab_size, (args.tokens,), generator=torch.Generator().manual_seed(args.seed))

    print(
        f"preset {args.preset}, {ours.num_parameters():,} parameters, {device}, {args.dtype}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    print(f"{args.tokens} tokens, windows of {max_length}, stride {stride}")
    print("| batch | ours (tok/s) | stock GPT-2 (tok/s) | ours / stock | NLL rel. diff |")
    print("|---:|---:|---:|---:|---:|")
    for batch_size in args.batch_sizes:
        ours_speed, ours_nll = tokens_per_second(ours, ids, max_length, stride, batch_size, args.repeats)
        stock_speed, stock_nll = tokens_per_second(stock, ids, max_length, stride, batch_size, args.repeats)
        print(
            f"| {batch_size} | {ours_speed:,.0f} | {stock_speed:,.0f} | {ours_speed / stock_speed:.2f} | "
            f"{abs(ours_nll - stock_nll) / abs(stock_nll):.1e} |"
        )


if __name__ == "__main__":
    main()
