#!/usr/bin/env python
"""Pretrain or fine-tune with the transformers Trainer: the same as ``gpt-from-scratch train``.

python scripts/train.py --dataset wikitext --dataset-config wikitext-2-raw-v1 --validation-split validation \
    --preset 124M --output-dir runs/124M --max-steps 2000 --per-device-train-batch-size 16 --learning-rate 4e-4
torchrun --nproc_per_node 8 scripts/train.py ...   # the same flags, one process per GPU
"""

import sys

from gpt_from_scratch.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
