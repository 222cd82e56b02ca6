"""GPT-2's byte-pair encoding with no network: tiktoken's ``Encoding`` and a transformers fast tokenizer,
both built from the ``gpt2.tiktoken`` ranks shipped in this package."""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import tiktoken
import tokenizers
from huggingface_hub.constants import HF_HOME
from tiktoken.load import load_tiktoken_bpe
from tiktoken_ext.openai_public import r50k_pat_str
from tokenizers import Tokenizer
from transformers import AutoTokenizer, GPT2TokenizerFast, PreTrainedTokenizerBase
from transformers.convert_slow_tokenizer import TikTokenConverter

GPT2_TIKTOKEN_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256


def gpt2_ranks_path() -> Path:
    """Path of the packaged ``gpt2.tiktoken`` file (GPT-2's 50,256 BPE ranks)."""
    return Path(str(resources.files("gpt_from_scratch") / "assets" / "gpt2.tiktoken"))


def _verified_ranks_path() -> str:
    path = gpt2_ranks_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall gpt-from-scratch (pip install --force-reinstall ...)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != GPT2_TIKTOKEN_SHA256:
        raise ValueError(f"{path} is corrupt: sha256 {digest}, expected {GPT2_TIKTOKEN_SHA256}; reinstall the package")
    return str(path)


@lru_cache(maxsize=1)
def get_gpt2_encoding() -> tiktoken.Encoding:
    """tiktoken's ``gpt2`` encoding, built from the packaged ranks (``tiktoken.get_encoding`` downloads)."""
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=r50k_pat_str,
        mergeable_ranks=load_tiktoken_bpe(_verified_ranks_path(), expected_hash=GPT2_TIKTOKEN_SHA256),
        special_tokens={ENDOFTEXT: ENDOFTEXT_ID},
        explicit_n_vocab=ENDOFTEXT_ID + 1,
    )


@lru_cache(maxsize=1)
def _gpt2_backend_json() -> str:
    """GPT-2's ``tokenizers`` serialisation, derived from the packaged ranks.

    Deriving the merges takes seconds, so the result is cached in memory and on disk (under ``HF_HOME``,
    keyed by the ranks' hash and the ``tokenizers`` version); every process after the first reads it back.
    """
    key = hashlib.sha256(f"{GPT2_TIKTOKEN_SHA256}|{tokenizers.__version__}|{r50k_pat_str}".encode()).hexdigest()[:16]
    cache_file = Path(HF_HOME) / "gpt_from_scratch" / f"gpt2-tokenizer-{key}.json"
    try:
        return cache_file.read_text(encoding="utf-8")
    except OSError:
        pass
    # The converter's default pattern is GPT-4's; GPT-2 splits text differently.
    converter = TikTokenConverter(vocab_file=_verified_ranks_path(), pattern=r50k_pat_str)
    serialized = converter.converted().to_str()
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(serialized, encoding="utf-8")
        os.replace(partial, cache_file)  # readers never see a half-written file
    except OSError:
        pass  # a read-only cache only costs the seconds again
    return serialized


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, save_directory: str | Path) -> None:
    """Save ``tokenizer`` so both transformers 5.x and 4.x ``AutoTokenizer`` load it without custom code."""
    tokenizer.save_pretrained(save_directory)
    config_path = Path(save_directory) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    # 5.x writes its unified class name; 4.x only finds the tokenizer.json-backed class under this one.
    if config.get("tokenizer_class") == "GPT2Tokenizer":
        config["tokenizer_class"] = "GPT2TokenizerFast"
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# Files any transformers tokenizer is saved as; a directory with none of them has no tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model", "vocab.txt")


def load_tokenizer(name_or_path: str | Path, **kwargs: Any) -> PreTrainedTokenizerBase:
    """``AutoTokenizer.from_pretrained``, with an error that says what to do when a local checkpoint
    directory has no tokenizer files (transformers' own message is about converting slow tokenizers)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir() and not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"{path} has no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...); save GPT-2's beside the "
            f"weights: python -c \"import gpt_from_scratch as g; g.save_tokenizer(g.build_gpt2_tokenizer(), '{path}')\""
        )
    return AutoTokenizer.from_pretrained(str(name_or_path) if not path.is_dir() else path, **kwargs)


def build_gpt2_tokenizer(model_max_length: int = 1024) -> PreTrainedTokenizerBase:
    """A transformers fast tokenizer with the same ids as :func:`get_gpt2_encoding`.

    Saved beside every checkpoint, it lets ``AutoTokenizer.from_pretrained(dir)`` work with no custom
    code. Its class is ``GPT2TokenizerFast`` so transformers 4.x readers load it too.
    """
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=Tokenizer.from_str(_gpt2_backend_json()),
        bos_token=ENDOFTEXT,
        eos_token=ENDOFTEXT,
        unk_token=ENDOFTEXT,
        # GPT-2 has no padding token; end-of-text pads batches (masked out by the attention mask), on the
        # left as decoder-only generation needs, so batched generate() and pipelines work out of the box.
        pad_token=ENDOFTEXT,
        padding_side="left",
        model_max_length=model_max_length,
        add_prefix_space=False,
    )
    if tokenizer.convert_tokens_to_ids(ENDOFTEXT) != ENDOFTEXT_ID:
        raise RuntimeError(f"{ENDOFTEXT} got id {tokenizer.convert_tokens_to_ids(ENDOFTEXT)}, expected {ENDOFTEXT_ID}")
    return tokenizer
