"""``gpt-from-scratch demo``: the seed notebook's flow, done the transformers way, with no network.

Builds the book's 124M model at seed 123 through ``AutoModelForCausalLM``, greedy-generates from
"Every effort moves you" with ``generate()``, and scores the notebook's two examples (loss, perplexity).
"""

from __future__ import annotations

import argparse

import torch
from transformers import AutoModelForCausalLM

from ..configuration_gpt import PRESETS, GPTConfig
from ..tokenization import build_gpt2_tokenizer

# The notebook's two examples: "every effort moves" -> " effort moves you",
# "I really like" -> " really like chocolate".
EXAMPLE_INPUTS = [[16833, 3626, 6100], [40, 1107, 588]]
EXAMPLE_TARGETS = [[3626, 6100, 345], [1107, 588, 11311]]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="124M", choices=sorted(PRESETS), help="model size (default: 124M, the notebook's)")
    parser.add_argument("--seed", type=int, default=123, help="torch seed for the initial weights (default: 123)")
    parser.add_argument("--prompt", default="Every effort moves you", help="text to continue")
    parser.add_argument("--max-new-tokens", type=int, default=10, help="tokens to generate (default: 10)")


def run(args: argparse.Namespace) -> int:
    config = GPTConfig.from_preset(args.preset)
    torch.manual_seed(args.seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    tokenizer = build_gpt2_tokenizer(model_max_length=config.context_length)
    print(f"model: {type(model).__name__}, preset {args.preset}, {model.num_parameters():,} parameters, seed {args.seed}")

    encoded = tokenizer(args.prompt, return_tensors="pt")
    generated = model.generate(**encoded, max_new_tokens=args.max_new_tokens, do_sample=False)
    print("generated ids:", generated[0].tolist())
    print("generated text:", tokenizer.decode(generated[0]))

    # labels = inputs followed by the last target: the model shifts them, so each input position is
    # scored on its target, exactly the notebook's cross-entropy.
    inputs = torch.tensor(EXAMPLE_INPUTS)
    targets = torch.tensor(EXAMPLE_TARGETS)
    input_ids = torch.cat([inputs, targets[:, -1:]], dim=1)
    with torch.no_grad():
        loss = model(input_ids=input_ids, labels=input_ids).loss
    print(f"cross-entropy loss: {loss.item():.4f}")
    print(f"perplexity: {torch.exp(loss).item():.4f}")
    return 0
