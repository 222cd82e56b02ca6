"""GPTConfig: the book's keys, transformers' names, presets and validation."""

import json

import pytest
import torch

from gpt_from_scratch import GPT_CONFIG_124M, PRESETS, GPTConfig, GPTForCausalLM


def test_book_keys_and_standard_aliases():
    config = GPTConfig(**GPT_CONFIG_124M)
    assert config.hidden_size == 768 and config.emb_dim == 768
    assert config.num_attention_heads == 12 and config.num_hidden_layers == 12
    assert config.max_position_embeddings == 256 == config.context_length
    assert config.head_dim == 64 and config.model_type == "gpt_from_scratch"
    config.hidden_size = 1024  # setting the alias sets the book's key
    assert config.emb_dim == 1024


def test_presets():
    assert set(PRESETS) >= {"124M", "gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", "tiny"}
    assert {key: getattr(GPTConfig.from_preset("124M"), key) for key in GPT_CONFIG_124M} == GPT_CONFIG_124M
    sizes = {"gpt2-small": (768, 12, 12), "gpt2-medium": (1024, 24, 16), "gpt2-large": (1280, 36, 20), "gpt2-xl": (1600, 48, 25)}
    for name, (emb_dim, n_layers, n_heads) in sizes.items():
        config = GPTConfig.from_preset(name)
        assert (config.emb_dim, config.n_layers, config.n_heads, config.context_length) == (emb_dim, n_layers, n_heads, 1024)
    tiny = GPTConfig.from_preset("tiny", n_layers=3)
    assert tiny.vocab_size == 50257 and tiny.n_layers == 3
    with pytest.raises(ValueError, match="preset='huge' is not a known preset"):
        GPTConfig.from_preset("huge")


def test_parameter_counts_are_the_books():
    # Book, ch. 4: 163,009,536 parameters for GPT-2 small at context 1024 with a separate output head,
    # 124,412,160 with the head tied to the token embedding.
    with torch.device("meta"):
        untied = GPTForCausalLM(GPTConfig.from_preset("gpt2-small"))
        tied = GPTForCausalLM(GPTConfig.from_preset("gpt2-small", tie_word_embeddings=True))
    assert untied.num_parameters() == 163_009_536
    assert tied.num_parameters() == 124_412_160


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        ({"emb_dim": 770}, ValueError, "emb_dim=770 must be divisible by n_heads=12"),
        ({"n_layers": 0}, ValueError, "n_layers must be a positive integer, got 0"),
        ({"context_length": -1}, ValueError, "context_length must be a positive integer"),
        ({"drop_rate": 1.0}, ValueError, r"0 <= drop_rate < 1, got 1.0"),
        ({"drop_rate": -0.1}, ValueError, "drop_rate"),
        ({"n_heads": 2.5}, TypeError, "n_heads must be an int"),
        ({"vocab_size": 1000}, ValueError, "bos_token_id=50256 does not fit vocab_size=1000"),
        ({"init_scheme": "xavier"}, ValueError, "init_scheme='xavier' is not one of"),
    ],
)
def test_invalid_values_are_named(overrides, error, message):
    with pytest.raises(error, match=message):
        GPTConfig(**{**GPT_CONFIG_124M, **overrides})


def test_small_vocab_without_gpt2_special_tokens_is_allowed():
    config = GPTConfig(vocab_size=1000, bos_token_id=None, eos_token_id=None, emb_dim=32, n_heads=4, n_layers=1)
    assert config.vocab_size == 1000


def test_round_trip_through_json(tmp_path):
    config = GPTConfig(**GPT_CONFIG_124M)
    config.save_pretrained(tmp_path)
    loaded = GPTConfig.from_pretrained(tmp_path)
    for key, value in GPT_CONFIG_124M.items():
        assert getattr(loaded, key) == value


def test_config_file_with_the_books_keys(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(GPT_CONFIG_124M))
    config = GPTConfig.from_config_file(path, n_layers=2)
    assert (config.emb_dim, config.context_length, config.n_layers) == (768, 256, 2)
    path.write_text(json.dumps({**GPT_CONFIG_124M, "emb_size": 10}))
    with pytest.raises(ValueError, match=r"unknown keys \['emb_size'\]"):
        GPTConfig.from_config_file(path)
    path.write_text("{oops")
    with pytest.raises(ValueError, match="is not valid JSON"):
        GPTConfig.from_config_file(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        GPTConfig.from_config_file(tmp_path / "missing.json")
