"""Strict causality: logits at positions <= t never depend on tokens after t."""

import pytest
import torch

from gpt_from_scratch import GPTConfig, GPTForCausalLM, GPTModel
from tests.book_reference import BookGPTModel
from tests.conftest import TINY_BOOK_CONFIG


def leaks_future(model, vocab_size: int, seq_len: int = 12, t: int = 5) -> bool:
    """Change every token after position t; report whether any logit at positions <= t moved."""
    torch.manual_seed(3)
    ids = torch.randint(0, vocab_size, (2, seq_len))
    changed = ids.clone()
    changed[:, t + 1 :] = torch.randint(0, vocab_size, (2, seq_len - t - 1))
    with torch.no_grad():
        a, b = model(ids), model(changed)
    a = a if isinstance(a, torch.Tensor) else a.logits
    b = b if isinstance(b, torch.Tensor) else b.logits
    return not torch.allclose(a[:, : t + 1], b[:, : t + 1], atol=0, rtol=0)


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_our_model_is_strictly_causal(attn_implementation):
    config = GPTConfig(**TINY_BOOK_CONFIG)
    config._attn_implementation = attn_implementation
    model = GPTForCausalLM(config).eval()
    assert model.config._attn_implementation == attn_implementation
    for t in (0, 3, 10):
        assert not leaks_future(model, config.vocab_size, t=t)


def test_the_check_catches_the_seed_notebooks_leaky_mask():
    leaky = BookGPTModel(TINY_BOOK_CONFIG, causal_diagonal=2).eval()
    strict = BookGPTModel(TINY_BOOK_CONFIG, causal_diagonal=1).eval()
    assert leaks_future(leaky, TINY_BOOK_CONFIG["vocab_size"])
    assert not leaks_future(strict, TINY_BOOK_CONFIG["vocab_size"])


def test_book_face_is_strictly_causal():
    assert not leaks_future(GPTModel(TINY_BOOK_CONFIG).eval(), TINY_BOOK_CONFIG["vocab_size"])
