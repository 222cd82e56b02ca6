"""Text generation from a saved checkpoint or a Hub model: loading, then ``generate()`` with streaming.

The decoding itself is transformers' ``generate()`` (key/value cache, sampling, beams, stop strings);
the model-specific part, the context-window limit and the book's opt-in cropping
(``crop_to_context=True``), lives in :class:`~gpt_from_scratch.modeling_gpt.GPTForCausalLM`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import (
    AutoModelForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TextStreamer,
    set_seed,
)

from .tokenization import load_tokenizer


def load_for_generation(model_name_or_path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal language model (in eval mode) and the tokenizer saved beside it.

    Args:
        model_name_or_path: A checkpoint directory (e.g. written by ``save_checkpoint``) or a Hub model id.
            This package's model type is registered on import, so its checkpoints need no remote code.
    """
    name = str(model_name_or_path)
    path = Path(name).expanduser()
    source: str | Path = name  # a Hub model id, unless it names a local directory
    if path.is_dir():
        source = path
    elif path.exists():
        raise NotADirectoryError(f"model {name} is a file; pass the checkpoint directory")
    elif path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1:
        raise FileNotFoundError(f"model directory {name} does not exist")
    try:
        model = AutoModelForCausalLM.from_pretrained(source)
        tokenizer = load_tokenizer(source)
    except OSError as error:
        # The Hub client explains over several lines; the first says what went wrong.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FileNotFoundError(f"cannot load model {name!r}: {first_line}") from error
    return model.eval(), tokenizer


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
        model: A causal language model, e.g. from :func:`load_for_generation`.
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


__all__ = ["generate_text", "load_for_generation"]
