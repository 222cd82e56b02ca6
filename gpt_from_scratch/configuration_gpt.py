"""Configuration of the book's GPT (Raschka, *Build a Large Language Model (From Scratch)*, ch. 4).

This file is copied next to checkpoints pushed to the Hub (``trust_remote_code``), so it imports only
installed packages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import PreTrainedConfig

INIT_SCHEMES = ("book", "gpt2")
GELU_APPROXIMATIONS = ("tanh", "none")

# The seed notebook's configuration, with the book's key names.
GPT_CONFIG_124M: dict[str, Any] = {
    "vocab_size": 50257,
    "context_length": 256,
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False,
}

_GPT2_CONTEXT = {"vocab_size": 50257, "context_length": 1024, "drop_rate": 0.1, "qkv_bias": False}

PRESETS: dict[str, dict[str, Any]] = {
    # The seed notebook's model: GPT-2 small with a 256-token context.
    "124M": dict(GPT_CONFIG_124M),
    # The book's `model_configs`, at GPT-2's full context.
    "gpt2-small": {**_GPT2_CONTEXT, "emb_dim": 768, "n_layers": 12, "n_heads": 12},
    "gpt2-medium": {**_GPT2_CONTEXT, "emb_dim": 1024, "n_layers": 24, "n_heads": 16},
    "gpt2-large": {**_GPT2_CONTEXT, "emb_dim": 1280, "n_layers": 36, "n_heads": 20},
    "gpt2-xl": {**_GPT2_CONTEXT, "emb_dim": 1600, "n_layers": 48, "n_heads": 25},
    # GPT-2's vocabulary on a toy body, for tests and quick CPU runs.
    "tiny": {
        "vocab_size": 50257,
        "context_length": 128,
        "emb_dim": 64,
        "n_heads": 4,
        "n_layers": 2,
        "drop_rate": 0.0,
        "qkv_bias": False,
    },
}


class GPTConfig(PreTrainedConfig):
    r"""Configuration of the book's GPT, accepting the book's keys as they are.

    ``GPTConfig(**GPT_CONFIG_124M)`` works; transformers' standard names (``hidden_size``,
    ``num_attention_heads``, ``num_hidden_layers``, ``max_position_embeddings``) are aliases of the
    book's, so library code that reads them works too.

    Args:
        vocab_size: Number of token ids the embedding and output head cover.
        context_length: Number of learned position embeddings, i.e. the longest input.
        emb_dim: Width of the residual stream.
        n_heads: Attention heads per block; must divide ``emb_dim``.
        n_layers: Number of transformer blocks.
        drop_rate: Dropout after embeddings, on attention weights and on both residual branches.
        qkv_bias: Whether the query/key/value projections have biases (OpenAI's GPT-2 weights do).
        gelu_approximate: ``"tanh"`` (the book's and GPT-2's GELU) or ``"none"`` (exact erf GELU, as in
            nanoGPT), passed to ``nn.GELU``.
        layer_norm_epsilon: Added to the variance in every LayerNorm.
        init_scheme: ``"book"`` (PyTorch's default initialisation, the book's, so seeded models match
            it) or ``"gpt2"`` (normal(0, ``initializer_range``), residual projections scaled by
            ``1/sqrt(2 * n_layers)``: the usual choice for pretraining from scratch).
        initializer_range: Standard deviation of the ``"gpt2"`` scheme.
        tie_word_embeddings: Share ``out_head`` with ``tok_emb`` (the book keeps them separate).
    """

    model_type = "gpt_from_scratch"
    attribute_map = {
        "hidden_size": "emb_dim",
        "num_attention_heads": "n_heads",
        "num_hidden_layers": "n_layers",
        "max_position_embeddings": "context_length",
    }

    vocab_size: int = 50257
    context_length: int = 1024
    emb_dim: int = 768
    n_heads: int = 12
    n_layers: int = 12
    drop_rate: float = 0.1
    qkv_bias: bool = False
    gelu_approximate: str = "tanh"
    layer_norm_epsilon: float = 1e-5
    init_scheme: str = "book"
    initializer_range: float = 0.02
    use_cache: bool = True
    bos_token_id: int | None = 50256
    eos_token_id: int | None = 50256
    pad_token_id: int | None = None
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        self._validate()

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> GPTConfig:
        """Build a configuration from one of :data:`PRESETS` (e.g. ``"124M"``, ``"gpt2-medium"``, ``"tiny"``)."""
        if name not in PRESETS:
            raise ValueError(f"preset={name!r} is not a known preset; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    @classmethod
    def from_config_file(cls, path: str | Path, **overrides: Any) -> GPTConfig:
        """Read a JSON object of config keys: the book's (``json.dump(GPT_CONFIG_124M, f)``) or any field
        of this class. Unknown keys are refused rather than silently kept."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--config {path}: no such file")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"--config {path} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise TypeError(f"--config {path} must hold a JSON object of config keys, got {type(values).__name__}")
        known = {name for klass in cls.__mro__ for name in getattr(klass, "__annotations__", {})}
        unknown = sorted(set(values) - known - {"model_type", "architectures", "auto_map"})
        if unknown:
            raise ValueError(f"--config {path} has unknown keys {unknown}; the book's keys are {sorted(GPT_CONFIG_124M)}")
        return cls.from_dict({**values, **overrides})

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> GPTConfig:
        # transformers only warns on a foreign model_type and then builds a default config, which would
        # load the weights into the wrong architecture; refuse instead.
        model_type = config_dict.get("model_type", cls.model_type)
        if model_type != cls.model_type:
            hint = " (convert it: gpt-from-scratch convert SRC OUT --from gpt2)" if model_type == "gpt2" else ""
            raise ValueError(f"config has model_type={model_type!r}, expected {cls.model_type!r}{hint}")
        return super().from_dict(config_dict, **kwargs)

    @property
    def head_dim(self) -> int:
        return self.emb_dim // self.n_heads

    def _validate(self) -> None:
        for name in ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
            if value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if self.emb_dim % self.n_heads != 0:
            raise ValueError(
                f"emb_dim={self.emb_dim} must be divisible by n_heads={self.n_heads} "
                f"(e.g. emb_dim={self.n_heads * max(1, round(self.emb_dim / self.n_heads))})"
            )
        if isinstance(self.drop_rate, bool) or not isinstance(self.drop_rate, (int, float)):
            raise TypeError(f"drop_rate must be a float, got {self.drop_rate!r}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"drop_rate must satisfy 0 <= drop_rate < 1, got {self.drop_rate}")
        if self.gelu_approximate not in GELU_APPROXIMATIONS:
            raise ValueError(f"gelu_approximate={self.gelu_approximate!r} is not one of {GELU_APPROXIMATIONS}")
        if self.init_scheme not in INIT_SCHEMES:
            raise ValueError(f"init_scheme={self.init_scheme!r} is not one of {INIT_SCHEMES}")
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < self.vocab_size:
                raise ValueError(
                    f"{name}={value} does not fit vocab_size={self.vocab_size} (ids run 0..{self.vocab_size - 1}); "
                    f"the GPT-2 tokenizer needs vocab_size >= 50257, or set {name}=None"
                )


__all__ = ["GPT_CONFIG_124M", "PRESETS", "GPTConfig"]
