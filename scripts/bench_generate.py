"""Generation speed: new tokens per second of our model's generate() against stock transformers GPT-2
(``GPT2LMHeadModel`` with the same weights, converted) and the book's loop (``generate_text_simple``:
no cache, the whole context re-run for every token).

Greedy decoding from random-token prompts, random weights (speed does not depend on them), exactly
``--new-tokens`` tokens per row (no end-of-text stop). Contenders run interleaved, one after the other
within each repeat, so a machine that slows down affects them alike; the table shows each contender's
median speed over the repeats, and as ratios the median of the per-repeat ratios (a paired comparison:
a slow spell on a shared machine cancels out within a repeat instead of landing on one contender).

    python scripts/bench_generate.py            # the full table: tens of minutes on 2 cores (124M)
    python scripts/bench_generate.py --quick    # small model, batch 1, 100 tokens, fp32: about a minute

The thread count changes the comparison: our decoding splits its large float32 products across torch's
threads, while stock GPT-2's few-row products run on one thread whatever the setting. ``--threads 1``
compares the two single-threaded (steadier on a machine shared with other jobs: threads of one operator
wait for each other whenever one of them is descheduled).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
from tqdm import tqdm
from transformers import GPT2LMHeadModel

from gpt_from_scratch import GPTConfig, GPTForCausalLM, GPTModel, generate_text_simple
from gpt_from_scratch.conversion import gpt2_config_from_gpt, gpt_to_gpt2_state_dict

CONFIGS = {
    # The seed notebook's model: GPT-2 small with a 256-token context.
    "124M": GPTConfig.from_preset("124M", drop_rate=0.0),
    # A toy body on GPT-2's vocabulary, so the output head dominates as in small real models.
    "small": GPTConfig.from_preset("tiny", context_length=256, emb_dim=128, n_layers=4, n_heads=4),
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
CONTENDERS = ("ours", "stock", "book")
PROMPT_LENGTH = 10


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_models(config: GPTConfig, dtype: torch.dtype) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    ours = GPTForCausalLM(config).eval()
    stock = GPT2LMHeadModel(gpt2_config_from_gpt(config)).eval()
    stock.load_state_dict(gpt_to_gpt2_state_dict(ours.state_dict(), config))
    book = GPTModel(config).eval()  # the book's face: calls return logits for every position, no cache
    book.load_state_dict(ours.state_dict())
    return {name: model.to(dtype) for name, model in (("ours", ours), ("stock", stock), ("book", book))}


def runner(name: str, model: torch.nn.Module, ids: torch.Tensor, new_tokens: int) -> Callable[[], torch.Tensor]:
    if name == "book":
        return lambda: generate_text_simple(model, ids, new_tokens, context_size=model.config.context_length)
    # eos_token_id=None: every row generates exactly `new_tokens`, as the book's loop does.
    options = {"max_new_tokens": new_tokens, "do_sample": False, "eos_token_id": None, "pad_token_id": 50256}
    return lambda: model.generate(ids, attention_mask=torch.ones_like(ids), **options)


def bench_cell(models, contenders, batch: int, new_tokens: int, repeats: int, progress) -> dict[str, list[float]]:
    """Seconds per run of each contender, interleaved over ``repeats`` rounds after one warm-up."""
    ids = torch.randint(0, 50000, (batch, PROMPT_LENGTH), generator=torch.Generator().manual_seed(batch))
    runs = {name: runner(name, models[name], ids, new_tokens) for name in contenders}
    outputs = {name: run() for name, run in runs.items()}  # warm-up, and the exactness check below
    reference = outputs[contenders[0]]
    for name, output in outputs.items():
        if not torch.equal(output, reference):
            diverged = (output != reference).any(0).nonzero()[0].item() - PROMPT_LENGTH
            print(f"  note: {name} diverges from {contenders[0]} at new token {diverged} (bf16 rounding?)")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            with torch.inference_mode():
                run()
            times[name].append(time.perf_counter() - start)
            progress.update()
    return times


def paired_ratio(times: dict[str, list[float]], fast: str, slow: str) -> str:
    """How many times faster ``fast`` ran than ``slow``: the median over repeats of the ratio within each."""
    if fast not in times or slow not in times:
        return "-"
    return f"{statistics.median(b / a for a, b in zip(times[fast], times[slow])):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS), help="model sizes")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8], help="prompts per call (default: 1 8)")
    parser.add_argument("--new-tokens", nargs="+", type=int, default=[100, 240], help="default: 100 240")
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES), help="weight dtypes")
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS, help="what to time")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per contender and cell (default: 5)")
    parser.add_argument(
        "--book-max-work",
        type=int,
        default=1 * 100,
        help="run the book's loop only where batch * new tokens is at most this (default: 100, the batch-1, "
        "100-token cell: the loop re-runs the whole context per token and takes minutes elsewhere)",
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="only the small model, batch 1, 100 tokens, fp32")
    args = parser.parse_args()
    if args.quick:
        args.configs, args.batch_sizes, args.new_tokens, args.dtypes = ["small"], [1], [100], ["fp32"]
    if args.threads:
        torch.set_num_threads(args.threads)

    cells = [
        (config, dtype, batch, new_tokens)
        for config in args.configs
        for dtype in args.dtypes
        for batch in args.batch_sizes
        for new_tokens in args.new_tokens
    ]

    def contenders_for(batch: int, new_tokens: int) -> tuple[str, ...]:
        return tuple(c for c in args.contenders if c != "book" or batch * new_tokens <= args.book_max_work)

    total = sum(len(contenders_for(b, n)) for _, _, b, n in cells) * args.repeats
    rows = []
    with tqdm(total=total, desc="timed runs", unit="run") as progress:
        for config_name in args.configs:
            for dtype_name in args.dtypes:
                models = build_models(CONFIGS[config_name], DTYPES[dtype_name])
                for batch in args.batch_sizes:
                    for new_tokens in args.new_tokens:
                        times = bench_cell(
                            models, contenders_for(batch, new_tokens), batch, new_tokens, args.repeats, progress
                        )
                        rows.append((config_name, dtype_name, batch, new_tokens, times))
                del models

    print(f"\nCPU: {cpu_name()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(
        f"greedy, prompt {PROMPT_LENGTH} tokens, {args.repeats} interleaved runs: median new tokens/s (all rows), "
        "median of the per-run ratios\n"
    )
    header = "| config | dtype | batch | new tokens | ours | stock GPT-2 | book loop | ours / stock | ours / book |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for config_name, dtype_name, batch, new_tokens, times in rows:
        speeds = {name: f"{batch * new_tokens / statistics.median(runs):.1f}" for name, runs in times.items()}
        print(
            f"| {config_name} | {dtype_name} | {batch} | {new_tokens} | {speeds.get('ours', '-')} | "
            f"{speeds.get('stock', '-')} | {speeds.get('book', '-')} | {paired_ratio(times, 'ours', 'stock')} | "
            f"{paired_ratio(times, 'ours', 'book')} |"
        )


if __name__ == "__main__":
    main()
