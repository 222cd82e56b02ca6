#!/usr/bin/env python
"""Training speed and peak memory: our model against stock transformers GPT2LMHeadModel, same config and weights.

Both models train on the same random batches in the same loop (forward with labels, backward, AdamW step),
in interleaved rounds so that machine noise hits both alike. Prints tokens per second, the ratio, the memory
training adds (CUDA: allocator peak above the resident weights and optimizer state; CPU: peak RSS growth
in a fresh process per model), achieved TFLOP/s and, given the accelerator's peak (``--peak-tflops``; known
for some GPUs), the model FLOPs utilisation (MFU, PaLM's 6N + 12·L·T·d FLOPs per token).

    python scripts/bench_train.py                       # tiny preset on CPU
    python scripts/bench_train.py --preset 124M --batch-size 4
    python scripts/bench_train.py --preset gpt2-small --device cuda --dtype bfloat16 --compile --fused-adamw \
        --batch-size 16 --steps 20
"""

from __future__ import annotations

import argparse
import copy
import gc
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from gpt_from_scratch import PRESETS, GPTConfig, GPTForCausalLM
from gpt_from_scratch.conversion import gpt2_from_gpt

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Dense bf16/fp16 tensor-core peaks, TFLOP/s.
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="model size (default: tiny)")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per step (default: 8)")
    parser.add_argument("--block-size", type=int, default=None, help="tokens per sequence (default: the context)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round (default: 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is kept (default: 3)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first, at least 1 (default: 2)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="autocast dtype (default: float32)")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--fused-adamw", action="store_true", help="AdamW(fused=True)")
    parser.add_argument("--attn", default="sdpa", help="attention implementation of both models (default: sdpa)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for MFU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-of", choices=("ours", "stock"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build(args: argparse.Namespace, only: str | None = None) -> tuple[GPTConfig, dict[str, torch.nn.Module]]:
    """Both models (or ``only`` one) with the same weights, on ``args.device``, in training mode."""
    torch.manual_seed(args.seed)
    config = GPTConfig.from_preset(args.preset, drop_rate=0.0)
    built = {"ours": GPTForCausalLM(config)}
    if only != "ours":
        # The same weights in GPT-2's layout; a copy, since the conversion shares storage with its source.
        built["stock"] = gpt2_from_gpt(copy.deepcopy(built["ours"]))
    models = {}
    for name, model in built.items():
        if only in (None, name):
            model.config._attn_implementation = args.attn
            model.to(args.device).train()
            models[name] = torch.compile(model) if args.compile else model
    return config, models


def make_step(model: torch.nn.Module, args: argparse.Namespace):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=args.fused_adamw or None)
    device_type = torch.device(args.device).type
    autocast = args.dtype != "float32"

    def step(batch: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, dtype=DTYPES[args.dtype], enabled=autocast):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    return step


def synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def flops_per_token(config: GPTConfig, block_size: int) -> float:
    """PaLM's training FLOPs per token: 6 x (non-embedding parameters, with the output head) + attention."""
    per_block = 12 * config.emb_dim**2 + 13 * config.emb_dim  # q, k, v, out, 4x MLP, norms and biases
    matmul_parameters = config.n_layers * per_block + config.emb_dim * config.vocab_size
    return 6 * matmul_parameters + 12 * config.n_layers * block_size * config.emb_dim


def cuda_step_memory(step, batches: torch.Tensor, device: str) -> float:
    """Peak CUDA memory (MiB) that ``step`` adds on top of what is resident (weights, optimizer state)."""
    gc.collect()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    for batch in batches:
        step(batch)
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20


def cpu_training_memory(name: str, argv: list[str]) -> float:
    """Peak RSS (MiB) that training adds, measured in a fresh process holding only model ``name``.

    In one process the allocator keeps what the other model freed, so only separate processes compare fairly.
    """
    command = [sys.executable, __file__, *argv, "--memory-of", name]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def _proc_status_mib(field: str) -> float:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024


def report_training_memory(args: argparse.Namespace) -> None:
    """``--memory-of``: print the peak RSS (MiB) that training one model adds to the process (Linux)."""
    config, models = build(args, only=args.memory_of)
    (model,) = models.values()
    step = make_step(model, args)
    batches = random_batches(args, config)
    gc.collect()
    before = _proc_status_mib("VmRSS")
    for batch in batches:
        step(batch)
    print(_proc_status_mib("VmHWM") - before)


def random_batches(args: argparse.Namespace, config: GPTConfig) -> torch.Tensor:
    block_size = args.block_size or config.context_length
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.warmup + args.steps, args.batch_size, block_size)
    return torch.randint(0, config.vocab_size, shape, generator=generator).to(args.device)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.warmup < 1 or args.steps < 1 or args.rounds < 1:
        raise SystemExit("--warmup, --steps and --rounds must be at least 1")
    if args.memory_of:
        report_training_memory(args)
        return
    config, models = build(args)
    parameters = sum(p.numel() for p in models["ours"].parameters())
    block_size = args.block_size or config.context_length
    batches = random_batches(args, config)
    steps = {name: make_step(model, args) for name, model in models.items()}
    is_cuda = torch.device(args.device).type == "cuda"

    first_loss = {}
    for name, step in steps.items():
        for batch in batches[: args.warmup]:  # warm-up also compiles
            loss = step(batch).item()
            first_loss.setdefault(name, loss)
    timings: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(args.rounds):
        order = list(steps) if round_index % 2 == 0 else list(steps)[::-1]
        for name in order:
            synchronize(args.device)
            start = time.perf_counter()
            for batch in batches[args.warmup :]:
                steps[name](batch)
            synchronize(args.device)
            timings[name].append(time.perf_counter() - start)
    if is_cuda:
        memory = {name: cuda_step_memory(step, batches[args.warmup :], args.device) for name, step in steps.items()}
    else:
        memory = {name: cpu_training_memory(name, argv) for name in steps}

    tokens = args.steps * args.batch_size * block_size
    speed = {name: tokens / statistics.median(times) for name, times in timings.items()}
    flops = flops_per_token(config, block_size)
    peak = args.peak_tflops
    if peak is None and is_cuda:
        device_name = torch.cuda.get_device_name(args.device)
        peak = next((value for key, value in PEAK_TFLOPS.items() if key in device_name), None)
    threads = "" if is_cuda else f", {torch.get_num_threads()} threads"
    print(
        f"preset {args.preset}: {parameters:,} parameters, batch {args.batch_size} x {block_size} tokens, {args.device}{threads}, {args.dtype}, "
        f"compile={args.compile}, fused AdamW={args.fused_adamw}, attention {args.attn}, torch {torch.__version__}"
    )
    print(f"first-step loss (same weights, same batch): ours {first_loss['ours']:.6f}, stock {first_loss['stock']:.6f}")
    memory_kind = "training memory, CUDA peak (MiB)" if is_cuda else "training memory, peak RSS (MiB)"
    print(f"| model | tokens/s | {memory_kind} | TFLOP/s | MFU |")
    print("|---|---:|---:|---:|---:|")
    for name, label in (("ours", "ours (GPTForCausalLM)"), ("stock", "stock GPT2LMHeadModel")):
        tflops = speed[name] * flops / 1e12
        mfu = f"{tflops / peak:.1%}" if peak else "n/a"
        print(f"| {label} | {speed[name]:,.0f} | {memory[name]:,.0f} | {tflops:.3f} | {mfu} |")
    print(
        f"ours / stock: {speed['ours'] / speed['stock']:.2f}x tokens/s, {memory['ours'] / memory['stock']:.2f}x memory"
    )


if __name__ == "__main__":
    main()
