"""The offline GPT-2 tokenizers: tiktoken's encoding and the transformers fast tokenizer agree."""

import pytest
from transformers import AutoTokenizer

from gpt_from_scratch import build_gpt2_tokenizer, get_gpt2_encoding, save_tokenizer

CORPUS = [
    "hello world",
    "Every effort moves you",
    "I really like chocolate",
    "  leading spaces, trailing spaces   ",
    "tabs\tand\nnewlines\n\n\nand\r\nwindows line ends",
    "whitespace runs:      end",
    "digits 1234567890 and 3.14159, 1,000,000 and 2026-11-25",
    "contractions: don't, I'm, we've, they'll, she'd, it's, 'quoted'",
    "Ünïcödé: naïve café, Straße, Ελληνικά, русский, 日本語のテキスト, 한국어",
    "emoji 😀🎉👩‍👩‍👧 and symbols ©®™ ∑∫√",
    "code: def f(x):\n    return x ** 2  # comment",
    "first document<|endoftext|>second document",
    "<|endoftext|>",
    "",
    "URLs https://example.com/a?b=c&d=e and e-mail a.b@c.org",
]


def test_known_ids(encoding, gpt2_tokenizer):
    # Ids from shared/README.md, checked against OpenAI's published encoding.
    known = {"hello world": [31373, 995], "Every effort moves you": [6109, 3626, 6100, 345], "I really like": [40, 1107, 588]}
    for text, ids in known.items():
        assert encoding.encode(text) == ids
        assert gpt2_tokenizer(text)["input_ids"] == ids


@pytest.mark.parametrize("text", CORPUS)
def test_fast_tokenizer_matches_tiktoken(text, encoding, gpt2_tokenizer):
    expected = encoding.encode(text, allowed_special={"<|endoftext|>"})
    assert gpt2_tokenizer(text)["input_ids"] == expected
    assert gpt2_tokenizer.decode(expected) == encoding.decode(expected) == text


def test_every_rank_round_trips(encoding):
    for token_id in range(0, encoding.n_vocab - 1, 7):
        assert encoding.decode_single_token_bytes(token_id) == encoding.decode_bytes([token_id])
    assert encoding.eot_token == 50256 and encoding.n_vocab == 50257


def test_special_tokens(gpt2_tokenizer):
    assert gpt2_tokenizer.eos_token == gpt2_tokenizer.bos_token == "<|endoftext|>"
    assert gpt2_tokenizer.eos_token_id == 50256
    assert len(gpt2_tokenizer) == 50257


def test_endoftext_is_refused_by_default_in_tiktoken(encoding):
    with pytest.raises(ValueError, match="disallowed special token"):
        encoding.encode("a<|endoftext|>b")


def test_saved_tokenizer_loads_with_auto_tokenizer_and_no_custom_code(tmp_path, gpt2_tokenizer, encoding):
    save_tokenizer(gpt2_tokenizer, tmp_path)
    config = (tmp_path / "tokenizer_config.json").read_text()
    assert '"tokenizer_class": "GPT2TokenizerFast"' in config
    assert (tmp_path / "tokenizer.json").is_file()
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    for text in CORPUS:
        assert loaded(text)["input_ids"] == encoding.encode(text, allowed_special={"<|endoftext|>"})
    assert loaded.eos_token_id == 50256


def test_builders_are_cached_and_independent():
    a, b = build_gpt2_tokenizer(), build_gpt2_tokenizer(model_max_length=256)
    assert a is not b and b.model_max_length == 256 and a.model_max_length == 1024
    assert get_gpt2_encoding() is get_gpt2_encoding()
