"""The book's interface (ch. 4-5) on top of the transformers model.

``GPTModel(cfg)(idx)`` returns logits, and ``generate_text_simple``, ``text_to_token_ids`` and
``token_ids_to_text`` keep the book's signatures, so the book's notebooks run with only their import
line changed.
"""

from __future__ import annotations

from typing import Any

import tiktoken
import torch

from .configuration_gpt import GPTConfig
from .modeling_gpt import GPTForCausalLM
from .tokenization import ENDOFTEXT


class GPTModel(GPTForCausalLM):
    """The book's ``GPTModel``: built from the book's config dict (or a :class:`GPTConfig`), called
    on token ids, returns logits of shape ``(batch, tokens, vocab_size)``.

    It is a :class:`GPTForCausalLM` with the book's calling convention: same parameters, same
    initialisation, and ``save_pretrained`` / ``from_pretrained`` / ``generate`` work on it too.
    """

    def __init__(self, cfg: dict[str, Any] | GPTConfig):
        if isinstance(cfg, dict):
            cfg = GPTConfig(**cfg)
        elif not isinstance(cfg, GPTConfig):
            raise TypeError(f"cfg must be the book's config dict or a GPTConfig, got {type(cfg).__name__}")
        super().__init__(cfg)

    def forward(self, in_idx: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor | Any:
        if kwargs:
            # transformers' own callers (generate, Trainer) use the keyword interface.
            if in_idx is not None:
                kwargs["input_ids"] = in_idx
            return super().forward(**kwargs)
        return super().forward(input_ids=in_idx, use_cache=False).logits

    def save_pretrained(self, save_directory: Any, *args: Any, **kwargs: Any) -> Any:
        """Save as the :class:`GPTForCausalLM` this is (same weights and config).

        Its code (``modeling_gpt.py``) loads anywhere with ``trust_remote_code``; this module needs the
        whole package.
        """
        as_causal_lm = GPTForCausalLM.__new__(GPTForCausalLM)
        as_causal_lm.__dict__ = self.__dict__  # a view sharing the modules: nothing is copied
        return as_causal_lm.save_pretrained(save_directory, *args, **kwargs)


def generate_text_simple(model: torch.nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int) -> torch.Tensor:
    """The book's greedy loop: re-run the last ``context_size`` tokens, append the argmax, repeat.

    Prefer ``model.generate(...)`` on a :class:`GPTForCausalLM`: it caches keys and values and gives
    the same tokens.
    """
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if context_size <= 0:
        raise ValueError(f"context_size must be positive, got {context_size}")
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        if not isinstance(logits, torch.Tensor):
            logits = logits.logits
        idx_next = torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def text_to_token_ids(text: str, tokenizer: tiktoken.Encoding) -> torch.Tensor:
    """Encode ``text`` (``<|endoftext|>`` allowed) to a ``(1, tokens)`` tensor."""
    encoded = tokenizer.encode(text, allowed_special={ENDOFTEXT})
    return torch.tensor(encoded).unsqueeze(0)


def token_ids_to_text(token_ids: torch.Tensor, tokenizer: tiktoken.Encoding) -> str:
    """Decode a ``(1, tokens)`` or ``(tokens,)`` tensor back to text."""
    return tokenizer.decode(token_ids.squeeze(0).tolist())
