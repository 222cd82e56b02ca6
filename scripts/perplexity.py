#!/usr/bin/env python
"""Perplexity of any causal LM on a ``datasets`` split: the same as ``gpt-from-scratch perplexity``.

python scripts/perplexity.py --model gpt2 --dataset wikitext --dataset-config wikitext-2-raw-v1 --split test
"""

import sys

from gpt_from_scratch.cli import main

if __name__ == "__main__":
    sys.exit(main(["perplexity", *sys.argv[1:]]))
