"""Perplexity of any causal language model on text, with sliding windows and exact token accounting.

The windows are those of the transformers perplexity guide
(https://huggingface.co/docs/transformers/perplexity): window ``k`` holds tokens
``[k * stride, k * stride + max_length)`` of the sequence (the last one ends at the sequence's end),
and scores only the tokens that the previous window did not reach, so every scored token sees at
least ``max_length - stride`` tokens of context. Unlike the guide, the accounting is exact: a window
scores the tokens ``[max(previous_end, begin + 1), end)`` and the mean is over exactly those.

* ``stride < max_length``: every token after the first of a sequence is scored exactly once.
* ``stride == max_length``: the windows do not overlap and the first token of each window has no
  context, so it is not scored: this is the plain non-overlapping evaluation.

Bits per byte is the total negative log-likelihood in bits over the UTF-8 bytes of the scored text.
Each token owns the characters from where the previous token's text ends to where its own ends (the
last token also owns any trailing characters), so the tokens partition the text; the scored text is
what the scored tokens own. Special tokens (a BOS, say) own nothing, so with a start token every byte
is scored. Word-level perplexity uses the whitespace-separated words whose first character is scored.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Loading lives with the checkpoints; these names were first importable from here.
from .checkpoint import load_causal_lm, resolve_device

DEFAULT_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Window:
    """Tokens ``[begin, end)`` of sequence ``sequence`` go through the model; ``[first_scored, end)`` are scored."""

    sequence: int
    begin: int
    end: int
    first_scored: int

    @property
    def num_scored(self) -> int:
        return self.end - self.first_scored


@dataclass
class TokenScores:
    """Per-token negative log-likelihoods (nats, float64) of one sequence; ``scored`` marks the tokens scored."""

    nll: torch.Tensor
    scored: torch.Tensor


@dataclass
class PerplexityResult:
    """Corpus-level perplexity figures.

    Attributes:
        loss: Mean negative log-likelihood, nats per scored token.
        perplexity: ``exp(loss)``.
        tokens: Number of tokens scored.
        total_nll: Sum of the negative log-likelihoods, nats.
        bytes: UTF-8 bytes of the scored text (see the module docstring).
        bits_per_byte: ``total_nll / ln(2) / bytes``: comparable across tokenizers.
        words: Whitespace-separated words that start in the scored text.
        word_perplexity: ``exp(total_nll / words)`` (``None`` without words): comparable across tokenizers.
        sequences: Token sequences that had something to score (1 unless per document).
        windows: Forward windows run.
        max_length: Window length in tokens.
        stride: Tokens between the starts of consecutive windows.
    """

    loss: float
    perplexity: float
    tokens: int
    total_nll: float
    bytes: int
    bits_per_byte: float
    words: int
    word_perplexity: float | None
    sequences: int
    windows: int
    max_length: int
    stride: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sliding_windows(lengths: Sequence[int], max_length: int, stride: int) -> list[Window]:
    """The windows that score every sequence of ``lengths`` tokens (see the module docstring).

    Sequences shorter than two tokens have nothing to score and get no window.
    """
    _check_window(max_length, stride)
    windows = []
    for index, length in enumerate(lengths):
        previous_end = 0
        for begin in range(0, length, stride):
            end = min(begin + max_length, length)
            first_scored = max(previous_end, begin + 1)
            if first_scored < end:
                windows.append(Window(index, begin, end, first_scored))
            previous_end = end
            if end == length:
                break
    return windows


def _check_window(max_length: int, stride: int) -> None:
    for name, value in (("max_length", max_length), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if max_length < 2:
        raise ValueError(f"max_length={max_length} must be at least 2: one token of context and one to score")
    if not 1 <= stride <= max_length:
        raise ValueError(
            f"stride={stride} must satisfy 1 <= stride <= max_length={max_length} (a larger one skips tokens)"
        )


def model_max_length(model: PreTrainedModel) -> int | None:
    """The number of positions the model can attend over, from its config (``None`` if it does not say)."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def score_tokens(
    model: torch.nn.Module,
    sequences: Sequence[Sequence[int] | torch.Tensor],
    *,
    max_length: int,
    stride: int,
    batch_size: int = 1,
    progress: bool = False,
) -> list[TokenScores]:
    """Score token sequences with a causal LM through sliding windows, ``batch_size`` windows per forward.

    The model must return next-token ``logits`` of shape ``(batch, tokens, vocab)``; windows of unequal
    length are right-padded, which a causal model never attends to from the real positions.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    sequences = [torch.as_tensor(seq, dtype=torch.long).reshape(-1) for seq in sequences]
    windows = sliding_windows([len(seq) for seq in sequences], max_length, stride)
    scores = [
        TokenScores(torch.zeros(len(seq), dtype=torch.float64), torch.zeros(len(seq), dtype=torch.bool))
        for seq in sequences
    ]
    if not windows:
        return scores
    _check_token_ids(model, sequences)

    device = _model_device(model)
    forward_parameters = inspect.signature(model.forward).parameters
    # Longest windows first, so each batch pads as little as possible.
    order = sorted(windows, key=lambda w: w.end - w.begin, reverse=True)
    was_training = model.training
    model.eval()
    try:
        with (
            torch.inference_mode(),
            tqdm(total=sum(w.num_scored for w in windows), unit="tok", desc="perplexity", disable=not progress) as bar,
        ):
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                for window, nll in zip(batch, _score_batch(model, sequences, batch, device, forward_parameters)):
                    target = scores[window.sequence]
                    target.nll[window.first_scored : window.end] = nll.to("cpu", torch.float64)
                    target.scored[window.first_scored : window.end] = True
                bar.update(sum(w.num_scored for w in batch))
    finally:
        model.train(was_training)
    return scores


def _score_batch(
    model: torch.nn.Module,
    sequences: list[torch.Tensor],
    batch: list[Window],
    device: torch.device,
    forward_parameters: Any,
) -> list[torch.Tensor]:
    width = max(w.end - w.begin for w in batch)
    input_ids = torch.zeros(len(batch), width, dtype=torch.long)
    attention_mask = torch.zeros(len(batch), width, dtype=torch.long)
    for row, window in enumerate(batch):
        input_ids[row, : window.end - window.begin] = sequences[window.sequence][window.begin : window.end]
        attention_mask[row, : window.end - window.begin] = 1
    kwargs: dict[str, Any] = {}
    # Logits are needed only from the position before the earliest scored token on.
    first_logit = min(w.first_scored - w.begin for w in batch) - 1
    if "logits_to_keep" in forward_parameters:
        kwargs["logits_to_keep"] = width - first_logit
    if "use_cache" in forward_parameters:
        kwargs["use_cache"] = False
    logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), **kwargs).logits
    offset = width - logits.shape[1]  # position of logits[:, 0]
    results = []
    for row, window in enumerate(batch):
        # Position p's logits predict the token at p + 1.
        lo, hi = window.first_scored - window.begin - 1, window.end - window.begin - 1
        row_logits = logits[row, lo - offset : hi - offset].float()
        targets = input_ids[row, lo + 1 : hi + 1].to(row_logits.device)
        results.append(F.cross_entropy(row_logits, targets, reduction="none"))
    return results


def _model_device(model: torch.nn.Module) -> torch.device:
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    return next(model.parameters()).device


def _check_token_ids(model: torch.nn.Module, sequences: list[torch.Tensor]) -> None:
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    vocab_size = getattr(embeddings, "num_embeddings", None)
    if vocab_size is None:
        return
    high = max(int(seq.max()) for seq in sequences if len(seq))
    low = min(int(seq.min()) for seq in sequences if len(seq))
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"token id {low if low < 0 else high} is outside the model's vocabulary 0..{vocab_size - 1}: "
            "the tokenizer does not match the model"
        )


@dataclass
class _Tokenized:
    ids: list[int]
    owned_bytes: np.ndarray  # UTF-8 bytes each token owns
    owned_words: np.ndarray  # words whose first character each token owns


def _tokenize(tokenizer: PreTrainedTokenizerBase, text: str, add_start_token: bool) -> _Tokenized:
    try:
        encoded = tokenizer(text, return_offsets_mapping=True, verbose=False)
        offsets = np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    except NotImplementedError:  # tokenizers without offsets (no fast backend)
        encoded, offsets = tokenizer(text, verbose=False), None
    ids = list(encoded["input_ids"])
    if not ids:
        return _Tokenized([], np.zeros(0, np.int64), np.zeros(0, np.int64))

    # Cumulative UTF-8 bytes and word starts before each character.
    codepoints = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    char_bytes = 1 + (codepoints >= 0x80) + (codepoints >= 0x800) + (codepoints >= 0x10000)
    bytes_before = np.concatenate([[0], np.cumsum(char_bytes, dtype=np.int64)])
    word_starts = np.zeros(len(text), dtype=np.int64)
    word_starts[[match.start() for match in re.finditer(r"\S+", text)]] = 1
    words_before = np.concatenate([[0], np.cumsum(word_starts)])

    if offsets is None:
        warnings.warn(
            f"{type(tokenizer).__name__} gives no character offsets: bits per byte and word perplexity count "
            "the whole text, including the unscored first token",
            stacklevel=3,
        )
        ends = np.full(len(ids), len(text), dtype=np.int64)
    else:
        # A token owns the characters from the end of the previous token's text to the end of its own.
        ends = np.maximum.accumulate(offsets[:, 1])
        ends[-1] = len(text)
    starts = np.concatenate([[0], ends[:-1]])
    owned_bytes = bytes_before[ends] - bytes_before[starts]
    owned_words = words_before[ends] - words_before[starts]

    if add_start_token:
        bos = tokenizer.bos_token_id
        if bos is None:
            raise ValueError(f"add_start_token=True but {type(tokenizer).__name__} has no bos_token")
        if ids[0] != bos:
            ids = [bos, *ids]
            owned_bytes = np.concatenate([[0], owned_bytes])
            owned_words = np.concatenate([[0], owned_words])
    return _Tokenized(ids, owned_bytes, owned_words)


def compute_perplexity(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: str | Sequence[str],
    *,
    max_length: int | None = None,
    stride: int | None = None,
    batch_size: int = 1,
    per_document: bool = False,
    add_start_token: bool = False,
    separator: str = DEFAULT_SEPARATOR,
    progress: bool = False,
) -> PerplexityResult:
    """Perplexity, bits per byte and word perplexity of a causal LM on ``texts``.

    Args:
        model: Any causal LM returning next-token ``logits``.
        tokenizer: Its tokenizer (special tokens are added as it adds them by default).
        texts: One text, or texts joined with ``separator`` into one stream (the transformers guide's
            way), or scored each on its own with ``per_document=True``.
        max_length: Window length in tokens; defaults to the model's maximum number of positions.
        stride: Tokens between window starts; defaults to ``max_length // 2``. ``stride == max_length``
            is the non-overlapping evaluation.
        batch_size: Windows per forward pass.
        per_document: Score each text as its own sequence (its first token is context only).
        add_start_token: Put the tokenizer's ``bos_token`` before each sequence (unless the tokenizer
            already does), so that the first real token is scored too.
        separator: What joins the texts when ``per_document`` is false.
        progress: Show a progress bar.

    Raises:
        ValueError: no text, or no sequence of at least two tokens; a window or stride out of range;
            token ids the model does not have.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: nothing to score")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {type(text).__name__}, not str")
    if not any(text.strip() for text in texts):
        raise ValueError(f"all {len(texts)} text(s) are empty or whitespace: nothing to score")
    limit = model_max_length(model)
    if max_length is None:
        if limit is None:
            raise ValueError(f"{type(model).__name__}'s config gives no maximum length: pass max_length")
        max_length = limit
    elif limit is not None and max_length > limit:
        raise ValueError(f"max_length={max_length} exceeds the model's {limit} positions")
    if stride is None:
        stride = max(1, max_length // 2)
    _check_window(max_length, stride)

    pieces = [
        _tokenize(tokenizer, text, add_start_token) for text in (texts if per_document else [separator.join(texts)])
    ]
    if not any(len(piece.ids) >= 2 for piece in pieces):
        longest = max(len(piece.ids) for piece in pieces)
        what = "no text has" if per_document else "the text has only"
        raise ValueError(
            f"{what} {longest} token(s) but perplexity needs at least 2: the first token is context only"
            + (" (use add_start_token=True to score it)" if not add_start_token else "")
        )

    scores = score_tokens(
        model,
        [piece.ids for piece in pieces],
        max_length=max_length,
        stride=stride,
        batch_size=batch_size,
        progress=progress,
    )
    total_nll = sum(float(score.nll[score.scored].sum()) for score in scores)
    tokens = sum(int(score.scored.sum()) for score in scores)
    scored_bytes = sum(int(piece.owned_bytes[score.scored.numpy()].sum()) for piece, score in zip(pieces, scores))
    words = sum(int(piece.owned_words[score.scored.numpy()].sum()) for piece, score in zip(pieces, scores))
    loss = total_nll / tokens
    if not math.isfinite(loss):
        warnings.warn(f"the mean loss is {loss}: the model overflowed (try dtype float32)", stacklevel=2)
    return PerplexityResult(
        loss=loss,
        perplexity=math.exp(loss) if loss < 709 else math.inf,
        tokens=tokens,
        total_nll=total_nll,
        bytes=scored_bytes,
        bits_per_byte=total_nll / math.log(2) / scored_bytes if scored_bytes else math.nan,
        words=words,
        word_perplexity=(math.exp(min(total_nll / words, 709.0)) if words else None),
        sequences=sum(1 for score in scores if score.scored.any()),
        windows=len(sliding_windows([len(piece.ids) for piece in pieces], max_length, stride)),
        max_length=max_length,
        stride=stride,
    )


def save_results(path: str | Path, results: dict[str, Any]) -> Path:
    """Record ``results`` with ``evaluate.save``: a ``.json`` path is written as is, a directory gets a
    timestamped ``result-*.json``; evaluate adds the time, git commit and library versions."""
    import evaluate

    return Path(evaluate.save(str(path), **results))


__all__ = [
    "DEFAULT_SEPARATOR",
    "PerplexityResult",
    "TokenScores",
    "Window",
    "compute_perplexity",
    "load_causal_lm",
    "model_max_length",
    "resolve_device",
    "save_results",
    "score_tokens",
    "sliding_windows",
]
