"""``gpt-from-scratch demo``: the main job, end to end on built-in data with no network.

1. The seed notebook's check: the book's 124M model at seed 123 through ``AutoModelForCausalLM``, greedy
   ``generate()`` from "Every effort moves you", and the notebook's two examples (loss, perplexity).
2. Pretrain a small model with the ``Trainer`` on the Python standard library's own docstrings
   (:mod:`gpt_from_scratch.corpus`, gathered at run time), holding some modules out.
3. Save it, reload it through ``AutoModelForCausalLM``/``AutoTokenizer``/``pipeline``, and generate.
4. Perplexity on the held-out modules (:func:`gpt_from_scratch.perplexity.compute_perplexity`), before and
   after training.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments, pipeline, set_seed

from ..configuration_gpt import PRESETS, GPTConfig
from ..corpus import stdlib_docstring_corpus
from ..perplexity import compute_perplexity
from ..tokenization import build_gpt2_tokenizer, get_gpt2_encoding
from ..training import DataArguments, ModelArguments, build_model, run_training

# The notebook's two examples: "every effort moves" -> " effort moves you",
# "I really like" -> " really like chocolate".
EXAMPLE_INPUTS = [[16833, 3626, 6100], [40, 1107, 588]]
EXAMPLE_TARGETS = [[3626, 6100, 345], [1107, 588, 11311]]
QUICK_STEPS = 4


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed-check", action="store_true", help="only step 1: the notebook's 124M model at --seed 123 and its loss"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK_STEPS} training steps, one held-out module, no 124M seed check",
    )
    parser.add_argument(
        "--preset", default="tiny", choices=sorted(PRESETS), help="shape of the model to train (default: tiny)"
    )
    parser.add_argument(
        "--max-steps", type=int, default=60, help="training steps (default: 60, a minute or two on 2 CPU cores)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, help="blocks of context_length tokens per step (default: 8)"
    )
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="peak learning rate (default: 2e-3)")
    parser.add_argument(
        "--output-dir",
        default=None,
        help="where to save the trained model (default: a temporary directory, removed at the end)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "auto"),
        default="cpu",
        help="cpu (default) or auto: an accelerator when there is one",
    )
    parser.add_argument(
        "--seed", type=int, default=123, help="seed of the initial weights and the data order (default: 123)"
    )
    parser.add_argument(
        "--prompt", default="Return the", help="text to continue after training (default: 'Return the')"
    )
    parser.add_argument("--max-new-tokens", type=int, default=30, help="tokens to generate (default: 30)")


def run(args: argparse.Namespace) -> int:
    if args.max_steps <= 0 or args.batch_size <= 0 or args.max_new_tokens <= 0:
        raise ValueError(
            f"--max-steps, --batch-size and --max-new-tokens must be positive, got {args.max_steps}, "
            f"{args.batch_size}, {args.max_new_tokens}"
        )
    if args.seed_check or not args.quick:
        seed_check(args.seed)
        if args.seed_check:
            return 0
    if args.output_dir is not None:
        train_and_report(args, Path(args.output_dir))
    else:
        with tempfile.TemporaryDirectory(prefix="gpt-from-scratch-demo-") as output_dir:
            train_and_report(args, Path(output_dir))
    return 0


def seed_check(seed: int) -> None:
    """The notebook's numbers: its 124M model at ``seed``, greedy generation, the two examples' loss."""
    print(f"== 1. the notebook's model: preset 124M, torch.manual_seed({seed})")
    config = GPTConfig.from_preset("124M")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    tokenizer = build_gpt2_tokenizer(model_max_length=config.context_length)
    encoded = tokenizer("Every effort moves you", return_tensors="pt")
    generated = model.generate(**encoded, max_new_tokens=10, do_sample=False)
    print("generated ids:", generated[0].tolist())
    # labels = inputs followed by the last target: the model shifts them, so each input position is
    # scored on its target, exactly the notebook's cross-entropy.
    inputs, targets = torch.tensor(EXAMPLE_INPUTS), torch.tensor(EXAMPLE_TARGETS)
    input_ids = torch.cat([inputs, targets[:, -1:]], dim=1)
    with torch.no_grad():
        loss = model(input_ids=input_ids, labels=input_ids).loss
    print(f"cross-entropy loss: {loss.item():.4f}, perplexity: {torch.exp(loss).item():.4f}")


def train_and_report(args: argparse.Namespace, output_dir: Path) -> None:
    """Steps 2-4: train on the stdlib docstrings, save, reload, generate, held-out perplexity."""
    corpus = stdlib_docstring_corpus()
    if args.quick:
        corpus["test"] = corpus["test"].select([0])
    encoding = get_gpt2_encoding()
    held_out = list(corpus["test"]["text"])
    print(
        f"== 2. corpus: Python {sys.version_info.major}.{sys.version_info.minor} standard-library docstrings, "
        f"{len(corpus['train'])} modules for training ({_count_tokens(encoding, corpus['train']['text']):,} tokens), "
        f"held out: {', '.join(corpus['test']['module'])} ({_count_tokens(encoding, held_out):,} tokens)"
    )
    max_steps = QUICK_STEPS if args.quick else args.max_steps
    model_args = ModelArguments(preset=args.preset)
    training_args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=max_steps,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, max_steps // 10),
        weight_decay=0.1,
        logging_steps=max(1, max_steps // 10),
        save_strategy="no",
        report_to="none",
        use_cpu=args.device == "cpu",
        seed=args.seed,
    )
    print(
        f"training {args.preset} ({GPTConfig.from_preset(args.preset).context_length}-token blocks) for {max_steps} "
        f"steps of {args.batch_size} blocks on {training_args.device}"
    )
    start = time.perf_counter()
    result = run_training(model_args, DataArguments(), training_args, corpus["train"], corpus["test"])
    print(
        f"trained in {time.perf_counter() - start:.0f} s: train loss {result.train_metrics['train_loss']:.3f}, "
        f"held-out loss {result.eval_metrics['eval_loss']:.3f} (perplexity {result.eval_metrics['eval_perplexity']:.1f})"
    )

    print(f"== 3. saved to {output_dir}; reloading with AutoModelForCausalLM, AutoTokenizer and pipeline")
    model = AutoModelForCausalLM.from_pretrained(output_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    print(f"reloaded: {type(model).__name__}, {model.num_parameters():,} parameters, {type(tokenizer).__name__}")
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device=model.device)
    # A minute of training leaves greedy decoding stuck on newlines; seeded top-k sampling shows what it learned.
    set_seed(args.seed)
    sampled = generator(args.prompt, max_new_tokens=args.max_new_tokens, do_sample=True, top_k=40, temperature=0.8)
    print(f"pipeline('text-generation'), top-k 40 sampling, seed {args.seed}: {sampled[0]['generated_text']!r}")

    context = model.config.max_position_embeddings
    window = {"max_length": context, "stride": context // 2, "batch_size": args.batch_size}
    untrained = build_model(model_args, seed=args.seed).eval()
    before = compute_perplexity(untrained, tokenizer, held_out, **window)
    after = compute_perplexity(model, tokenizer, held_out, **window)
    print(
        f"== 4. held-out perplexity (compute_perplexity, {context}-token windows, stride {context // 2}, "
        f"{after.tokens:,} tokens): untrained {before.perplexity:,.1f}, trained {after.perplexity:,.1f} "
        f"({after.bits_per_byte:.3f} bits per byte)"
    )


def _count_tokens(encoding, texts) -> int:
    return sum(len(ids) for ids in encoding.encode_ordinary_batch(list(texts)))
