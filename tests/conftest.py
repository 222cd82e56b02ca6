"""Shared fixtures: tiny seeded models (CPU, fp32) and the offline GPT-2 tokenizer."""

import pytest
import torch
from transformers import GPT2LMHeadModel

from gpt_from_scratch import GPTConfig, GPTForCausalLM, build_gpt2_tokenizer, get_gpt2_encoding
from gpt_from_scratch.checkpoint import save_checkpoint
from gpt_from_scratch.conversion import gpt2_config_from_gpt, gpt_to_gpt2_state_dict

# A tiny model with the book's key names, for tests that need a dict rather than a GPTConfig.
TINY_BOOK_CONFIG = {
    "vocab_size": 50257,
    "context_length": 64,
    "emb_dim": 32,
    "n_heads": 4,
    "n_layers": 2,
    "drop_rate": 0.0,
    "qkv_bias": False,
}


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture
def tiny_config() -> GPTConfig:
    return GPTConfig(**TINY_BOOK_CONFIG)


@pytest.fixture
def tiny_model(tiny_config) -> GPTForCausalLM:
    torch.manual_seed(0)
    return GPTForCausalLM(tiny_config).eval()


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    return build_gpt2_tokenizer()


@pytest.fixture(scope="session")
def encoding():
    return get_gpt2_encoding()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, gpt2_tokenizer):
    """A saved tiny checkpoint directory (safetensors, config, generation config, tokenizer)."""
    torch.manual_seed(1)
    model = GPTForCausalLM(GPTConfig(**{**TINY_BOOK_CONFIG, "qkv_bias": True})).eval()
    path = tmp_path_factory.mktemp("tiny") / "checkpoint"
    save_checkpoint(model, path, tokenizer=gpt2_tokenizer)
    return path


def stock_gpt2_twin(model: GPTForCausalLM, attn_implementation: str = "sdpa") -> GPT2LMHeadModel:
    """Stock transformers GPT-2 holding a copy of ``model``'s weights: the independent reference."""
    config = gpt2_config_from_gpt(model.config)
    twin = GPT2LMHeadModel._from_config(config, attn_implementation=attn_implementation)
    twin.load_state_dict(gpt_to_gpt2_state_dict(model.state_dict(), model.config))
    return twin.eval()
