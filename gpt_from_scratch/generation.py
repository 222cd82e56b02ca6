"""Generating text from a prompt with any causal LM's ``generate()``, streaming it as it comes.

The decoding itself is transformers' ``generate()`` (key/value cache, sampling, beams, stop strings);
the model-specific part, the context-window limit and the book's opt-in cropping
(``crop_to_context=True``), lives in :class:`~gpt_from_scratch.modeling_gpt.GPTForCausalLM`. Load
checkpoints with :func:`gpt_from_scratch.checkpoint.load_causal_lm`.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase, TextStreamer, set_seed


def generate_text(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    *,
    max_new_tokens: int = 50,
    seed: int | None = None,
    stream: bool = False,
    **generate_kwargs: Any,
) -> str:
    """Continue ``prompt`` with ``model.generate()`` and return the prompt followed by the continuation.

    Args:
        model: A causal language model.
        tokenizer: Its tokenizer.
        prompt: The text to continue.
        max_new_tokens: How many tokens to generate at most.
        seed: Seed for Python, NumPy and torch before generating, so sampling is reproducible.
        stream: Print the text to stdout as it is generated (``transformers.TextStreamer``).
        generate_kwargs: Any other ``generate()`` argument (``do_sample``, ``temperature``, ``top_k``,
            ``top_p``, ``repetition_penalty``, ``crop_to_context``...); the model's generation config
            supplies the rest.
    """
    if not prompt:
        raise ValueError("prompt is empty: pass some text to continue")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if seed is not None:
        set_seed(seed)
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    streamer = TextStreamer(tokenizer) if stream else None
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, streamer=streamer, **generate_kwargs)
    return tokenizer.decode(output[0])


__all__ = ["generate_text"]
