"""Bringing weights in from the book, OpenAI GPT-2 and nanoGPT, and out to stock transformers GPT-2.

The single place that knows how other layouts relate to this model's:

- the book's state dicts use this model's names already (``tok_emb``, ``trf_blocks.N.att.W_query``, ...);
- GPT-2 (``GPT2LMHeadModel``) fuses ``W_query``/``W_key``/``W_value`` in one ``Conv1D`` ``c_attn`` whose
  weights are ``(in, out)``, where the book's ``nn.Linear`` weights are ``(out, in)``;
- nanoGPT uses GPT-2's names with ``nn.Linear`` layers, and with ``bias=False`` has no biases at all.

Every pickle-based file (``.pth``, ``.pt``, ``.bin``) is read with ``torch.load(..., weights_only=True)``,
so a file that carries code is refused instead of run.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .checkpoint import save_checkpoint
from .configuration_gpt import GPTConfig
from .modeling_gpt import GPTForCausalLM

SOURCE_FORMATS = ("book", "gpt2", "nanogpt")
TARGET_FORMATS = ("gpt2",)

# Per-block LayerNorm and Linear pairs: (ours, GPT-2's). Conv1D weights are transposed Linear weights.
_BLOCK_NORMS = {"norm1": "ln_1", "norm2": "ln_2"}
_BLOCK_LINEARS = {"att.out_proj": "attn.c_proj", "ff.layers.0": "mlp.c_fc", "ff.layers.2": "mlp.c_proj"}
_QKV = ("W_query", "W_key", "W_value")

# Prefixes that wrappers add to every key: torch.compile (`_orig_mod.`) and (Distributed)DataParallel.
_WRAPPER_PREFIXES = ("_orig_mod.", "module.")

# The keys of nanoGPT's `model_args` (karpathy/nanoGPT `GPTConfig`); anything else is a fork whose
# architecture this converter does not know.
_NANOGPT_ARGS = ("n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size", "dropout")

# transformers' names of GPT-2's activation for each of our `gelu_approximate` values.
_GPT2_ACTIVATIONS = {"tanh": "gelu_new", "none": "gelu"}


# --------------------------------------------------------------------------------------------------
# GPT-2 <-> ours: configurations and state dicts
# --------------------------------------------------------------------------------------------------


def gpt2_config_from_gpt(config: GPTConfig) -> GPT2Config:
    """The stock GPT-2 configuration of the same architecture.

    ``n_ctx`` (GPT-2's old name for ``n_positions``) is written too: llama.cpp's converter reads it.
    """
    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.context_length,
        n_ctx=config.context_length,
        n_embd=config.emb_dim,
        n_layer=config.n_layers,
        n_head=config.n_heads,
        activation_function=_GPT2_ACTIVATIONS[config.gelu_approximate],
        resid_pdrop=config.drop_rate,
        embd_pdrop=config.drop_rate,
        attn_pdrop=config.drop_rate,
        layer_norm_epsilon=config.layer_norm_epsilon,
        initializer_range=config.initializer_range,
        tie_word_embeddings=config.tie_word_embeddings,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )


def gpt_config_from_gpt2(config: GPT2Config, *, qkv_bias: bool = True) -> GPTConfig:
    """Our configuration for a stock GPT-2 one (OpenAI's weights have query/key/value biases).

    Raises:
        ValueError: the GPT-2 configuration uses a feature the book's GPT does not have.
    """
    gelu_approximate = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}.get(config.activation_function)
    if gelu_approximate is None:
        raise ValueError(
            f"activation_function={config.activation_function!r} is not supported: this model has GELU, "
            "exact ('gelu') or with the tanh approximation ('gelu_new', 'gelu_pytorch_tanh')"
        )
    if config.n_inner not in (None, 4 * config.n_embd):
        raise ValueError(f"n_inner={config.n_inner} is not 4 * n_embd={4 * config.n_embd}, the book's width")
    # Features that change the maths; `reorder_and_upcast_attn` only changes the rounding, so it is fine.
    for name, supported in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False)):
        if getattr(config, name) != supported:
            raise ValueError(f"{name}={getattr(config, name)} is not supported: the book's attention needs {supported}")
    if config.add_cross_attention:
        raise ValueError("add_cross_attention=True is not supported: the book's GPT is a decoder only")
    return GPTConfig(
        vocab_size=config.vocab_size,
        context_length=config.n_positions,
        emb_dim=config.n_embd,
        n_heads=config.n_head,
        n_layers=config.n_layer,
        drop_rate=float(config.resid_pdrop),
        qkv_bias=qkv_bias,
        gelu_approximate=gelu_approximate,
        layer_norm_epsilon=config.layer_norm_epsilon,
        init_scheme="gpt2",
        initializer_range=config.initializer_range,
        tie_word_embeddings=config.tie_word_embeddings,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )


def gpt_to_gpt2_state_dict(state_dict: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """Rename and reshape our state dict into ``GPT2LMHeadModel``'s (zero q/k/v biases if we have none)."""
    out = {
        "transformer.wte.weight": state_dict["tok_emb.weight"],
        "transformer.wpe.weight": state_dict["pos_emb.weight"],
        "transformer.ln_f.weight": state_dict["final_norm.scale"],
        "transformer.ln_f.bias": state_dict["final_norm.shift"],
        "lm_head.weight": state_dict["out_head.weight"],
    }
    for i in range(config.n_layers):
        ours, theirs = f"trf_blocks.{i}.", f"transformer.h.{i}."
        for norm, ln in _BLOCK_NORMS.items():
            out[theirs + ln + ".weight"] = state_dict[ours + norm + ".scale"]
            out[theirs + ln + ".bias"] = state_dict[ours + norm + ".shift"]
        for linear, conv in _BLOCK_LINEARS.items():
            out[theirs + conv + ".weight"] = state_dict[ours + linear + ".weight"].t().contiguous()
            out[theirs + conv + ".bias"] = state_dict[ours + linear + ".bias"]
        weights = [state_dict[f"{ours}att.{name}.weight"] for name in _QKV]
        out[theirs + "attn.c_attn.weight"] = torch.cat(weights, dim=0).t().contiguous()
        if config.qkv_bias:
            out[theirs + "attn.c_attn.bias"] = torch.cat([state_dict[f"{ours}att.{name}.bias"] for name in _QKV])
        else:
            out[theirs + "attn.c_attn.bias"] = weights[0].new_zeros(3 * config.emb_dim)
    return out


def gpt2_to_gpt_state_dict(state_dict: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """The inverse of :func:`gpt_to_gpt2_state_dict`; accepts ``GPT2Model`` keys (no ``transformer.``) too.

    Without ``lm_head.weight`` (tied checkpoints often omit it) the output head is the token embedding.
    """
    state_dict = {key.removeprefix("transformer."): value for key, value in state_dict.items()}
    out = {
        "tok_emb.weight": state_dict["wte.weight"],
        "pos_emb.weight": state_dict["wpe.weight"],
        "final_norm.scale": state_dict["ln_f.weight"],
        "final_norm.shift": state_dict["ln_f.bias"],
        "out_head.weight": state_dict.get("lm_head.weight", state_dict["wte.weight"]),
    }
    for i in range(config.n_layers):
        ours, theirs = f"trf_blocks.{i}.", f"h.{i}."
        for norm, ln in _BLOCK_NORMS.items():
            out[ours + norm + ".scale"] = state_dict[theirs + ln + ".weight"]
            out[ours + norm + ".shift"] = state_dict[theirs + ln + ".bias"]
        for linear, conv in _BLOCK_LINEARS.items():
            out[ours + linear + ".weight"] = state_dict[theirs + conv + ".weight"].t().contiguous()
            out[ours + linear + ".bias"] = state_dict[theirs + conv + ".bias"]
        qkv_weights = state_dict[theirs + "attn.c_attn.weight"].t().split(config.emb_dim, dim=0)
        qkv_biases = state_dict[theirs + "attn.c_attn.bias"].split(config.emb_dim)
        for name, weight, bias in zip(_QKV, qkv_weights, qkv_biases):
            out[f"{ours}att.{name}.weight"] = weight.contiguous()
            if config.qkv_bias:
                out[f"{ours}att.{name}.bias"] = bias.contiguous()
    return out


# --------------------------------------------------------------------------------------------------
# Checks and helpers shared by every format
# --------------------------------------------------------------------------------------------------


def check_state_dict(
    state_dict: Mapping[str, torch.Tensor], expected_shapes: Mapping[str, tuple[int, ...]], *, source: str
) -> None:
    """Check that ``state_dict`` has exactly the tensors and shapes a configuration expects.

    Args:
        state_dict: The tensors read from ``source``.
        expected_shapes: Tensor name -> shape that the configuration needs.
        source: What the tensors came from, for the messages (a path, "the nanoGPT checkpoint", ...).

    Raises:
        ValueError: naming the first mismatched tensor with both shapes, or the missing/unexpected tensors.
    """
    for name, shape in expected_shapes.items():
        if name in state_dict and tuple(state_dict[name].shape) != tuple(shape):
            raise ValueError(
                f"{name} has shape {tuple(state_dict[name].shape)} in {source} but the config needs {tuple(shape)}; "
                "check the config (or --config/--preset) against the one the weights were trained with"
            )
    missing = [name for name in expected_shapes if name not in state_dict]
    unexpected = [name for name in state_dict if name not in expected_shapes]
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"lacks {_some(missing)} that the config needs")
        if unexpected:
            problems.append(f"has {_some(unexpected)} that the config does not")
        hint = ""
        if any(name.endswith(("att.W_query.bias", "attn.c_attn.bias")) for name in missing + unexpected):
            hint = " (query/key/value biases: check qkv_bias)"
        raise ValueError(f"{source} {' and '.join(problems)}{hint}; check the config against the weights")


def _some(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{len(names)} tensor{'s' if len(names) > 1 else ''} ({shown}{more})"


def _strip_wrapper_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        for prefix in _WRAPPER_PREFIXES:
            key = key.removeprefix(prefix)
        out[key] = value
    return out


def _model_from_state_dict(
    model_class: type[PreTrainedModel], config: PreTrainedConfig, state_dict: dict[str, torch.Tensor], *, source: str
) -> PreTrainedModel:
    """Build ``model_class(config)`` holding exactly ``state_dict``'s tensors, without initialising weights first."""
    # Built on the meta device, the model allocates nothing and draws no random numbers: the
    # tensors are then assigned as they are (dtype included), which matters for 1.5B-parameter models.
    with torch.device("meta"):
        model = model_class(config)
    check_state_dict(state_dict, {name: tuple(t.shape) for name, t in model.state_dict().items()}, source=source)
    if not getattr(config, "tie_word_embeddings", False):
        # Untied parameters must not share memory (safetensors refuses to save shared tensors).
        seen: set[int] = set()
        state_dict = dict(state_dict)
        for name, tensor in state_dict.items():
            pointer = tensor.untyped_storage().data_ptr()
            if pointer in seen:
                state_dict[name] = tensor.clone()
            seen.add(pointer)
    model.load_state_dict(state_dict, strict=True, assign=True)
    model.tie_weights()  # assigning replaced the shared parameter with two
    return model.eval()


def load_torch_file(path: str | Path) -> Any:
    """``torch.load`` a ``.pth``/``.pt``/``.bin`` file on the CPU with ``weights_only=True``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not a PyTorch checkpoint, or it holds Python objects (possibly code) that
            ``weights_only=True`` refuses; nothing in it is run.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if _names_a_global(error):
            raise ValueError(_refusal(path, error)) from None
        raise ValueError(f"{path} is not a PyTorch checkpoint that torch.load can read ({error})") from None
    except (RuntimeError, KeyError, EOFError, ValueError) as error:
        raise ValueError(f"{path} is not a PyTorch checkpoint that torch.load can read ({error!r})") from None


def _names_a_global(error: BaseException) -> bool:
    # weights_only=True stops at the first import of a function or class ("GLOBAL"); other
    # unpickling errors mean the file is not a pickle at all.
    return "GLOBAL" in str(error)


def _refusal(source: str | Path, error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = next((line for line in lines if "GLOBAL" in line), lines[-1] if lines else "")
    return (
        f"{source} holds pickled Python objects, not only tensors, and is refused unread: loading it would run "
        f"code from the file ({reason}). Load it only if you trust it, and re-save the weights alone, "
        "e.g. torch.save(model.state_dict(), 'model.pth')"
    )


def _tokenizer_beside(name_or_path: str | Path, revision: str | None = None) -> PreTrainedTokenizerBase | None:
    """The tokenizer saved with a checkpoint (local directory or Hub id), or ``None`` if it has none."""
    path = Path(name_or_path)
    if path.is_dir():
        files = ("tokenizer.json", "tokenizer_config.json", "vocab.json")
        return AutoTokenizer.from_pretrained(path) if any((path / name).is_file() for name in files) else None
    try:
        return AutoTokenizer.from_pretrained(str(name_or_path), revision=revision)
    except (OSError, ValueError):
        return None


def _model_type(name_or_path: str | Path, **hub_kwargs: Any) -> str | None:
    text = str(name_or_path)
    # A Hub id is "name" or "owner/name"; anything else that does not exist is a missing directory.
    if not Path(text).exists() and (Path(text).is_absolute() or text.startswith((".", "~")) or text.count("/") > 1):
        raise FileNotFoundError(f"{text}: no such checkpoint directory")
    try:
        config_dict, _ = PreTrainedConfig.get_config_dict(str(name_or_path), **hub_kwargs)
    except OSError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FileNotFoundError(f"cannot read a transformers checkpoint from {name_or_path}: {reason}") from None
    return config_dict.get("model_type")


def _check_loading_info(info: Mapping[str, Any], source: str | Path) -> None:
    problems = {
        key: sorted(map(str, info.get(key) or ())) for key in ("missing_keys", "unexpected_keys", "mismatched_keys")
    }
    problems = {key: value for key, value in problems.items() if value}
    if problems:
        details = "; ".join(f"{key.replace('_', ' ')}: {', '.join(value[:4])}" for key, value in problems.items())
        raise ValueError(f"{source} does not match its own config.json ({details})")


# --------------------------------------------------------------------------------------------------
# The book
# --------------------------------------------------------------------------------------------------


def load_book_config(path: str | Path) -> GPTConfig:
    """Read a JSON file with the book's config keys (see :meth:`GPTConfig.from_config_file`)."""
    return GPTConfig.from_config_file(path)


def load_book(path: str | Path, config: GPTConfig) -> GPTForCausalLM:
    """A model holding the weights of one of the book's files.

    Args:
        path: ``torch.save(model.state_dict(), "model.pth")`` or the book's ``model_and_optimizer.pth``
            (a dict with ``model_state_dict``).
        config: The architecture the weights were trained with (the book's ``GPT_CONFIG_124M``, ...).
    """
    loaded = load_torch_file(path)
    if isinstance(loaded, dict) and "model_state_dict" in loaded:
        loaded = loaded["model_state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(value, torch.Tensor) for value in loaded.values()):
        found = sorted(loaded)[:6] if isinstance(loaded, dict) else type(loaded).__name__
        raise ValueError(f"{path} is neither a state dict nor a dict with 'model_state_dict' (found {found})")
    # The book registers its causal masks as buffers; this model builds masks on the fly.
    state_dict = {key: value for key, value in _strip_wrapper_prefixes(loaded).items() if not key.endswith("att.mask")}
    return _model_from_state_dict(GPTForCausalLM, config, state_dict, source=str(path))


# --------------------------------------------------------------------------------------------------
# OpenAI GPT-2 (transformers' GPT2LMHeadModel)
# --------------------------------------------------------------------------------------------------


def gpt_from_gpt2(gpt2: GPT2LMHeadModel, *, qkv_bias: bool | None = None) -> GPTForCausalLM:
    """Our model with the weights of a ``GPT2LMHeadModel`` (sharing memory where no reshaping is needed).

    Args:
        gpt2: The GPT-2 model.
        qkv_bias: Whether our model gets query/key/value biases. ``None`` gives them unless every
            ``c_attn`` bias is exactly zero (as in checkpoints exported from models without them), so
            exporting and importing restores the original architecture. Either way the outputs are the same.
    """
    config = gpt2.config
    state_dict = gpt2.state_dict()
    if qkv_bias is None:
        qkv_bias = any(bool(state_dict[f"transformer.h.{i}.attn.c_attn.bias"].any()) for i in range(config.n_layer))
    ours = gpt_config_from_gpt2(config, qkv_bias=qkv_bias)
    model = _model_from_state_dict(GPTForCausalLM, ours, gpt2_to_gpt_state_dict(state_dict, ours), source="GPT-2")
    model.generation_config = copy.deepcopy(gpt2.generation_config)
    return model


def gpt2_from_gpt(model: GPTForCausalLM) -> GPT2LMHeadModel:
    """A stock ``GPT2LMHeadModel`` with a copy of our model's weights (zero query/key/value biases if it
    has none): training or editing either model leaves the other as it was."""
    config = gpt2_config_from_gpt(model.config)
    ours = model.state_dict()
    # The renaming passes norms, embeddings and biases through as the same tensors; copy those.
    shared = {tensor.untyped_storage().data_ptr() for tensor in ours.values()}
    state_dict = {
        name: tensor.clone() if tensor.untyped_storage().data_ptr() in shared else tensor
        for name, tensor in gpt_to_gpt2_state_dict(ours, model.config).items()
    }
    gpt2 = _model_from_state_dict(GPT2LMHeadModel, config, state_dict, source="the converted model")
    gpt2.generation_config = copy.deepcopy(model.generation_config)
    return gpt2


def load_gpt2(name_or_path: str | Path, *, qkv_bias: bool | None = None, **kwargs: Any) -> GPTForCausalLM:
    """Our model from a transformers GPT-2 checkpoint: a local directory or a Hub id such as
    ``openai-community/gpt2`` (``-medium``, ``-large``, ``-xl``). ``kwargs`` go to ``from_pretrained``
    (``revision``, ``token``, ...)."""
    model_type = _model_type(name_or_path, **kwargs)
    if model_type != "gpt2":
        raise ValueError(f"{name_or_path} is a {model_type!r} checkpoint, not a GPT-2 ('gpt2') one")
    try:
        gpt2, info = GPT2LMHeadModel.from_pretrained(str(name_or_path), output_loading_info=True, **kwargs)
    except pickle.UnpicklingError as error:
        raise ValueError(_refusal(name_or_path, error)) from None
    _check_loading_info(info, name_or_path)
    return gpt_from_gpt2(gpt2, qkv_bias=qkv_bias)


def load_gpt(name_or_path: str | Path, **kwargs: Any) -> GPTForCausalLM:
    """Our model from one of this package's checkpoints, refusing other model types and incomplete weights."""
    model_type = _model_type(name_or_path)
    if model_type != GPTConfig.model_type:
        raise ValueError(
            f"{name_or_path} is a {model_type!r} checkpoint, not a {GPTConfig.model_type!r} one; "
            "import it first (gpt-from-scratch convert SRC OUT --from ...)"
        )
    model, info = GPTForCausalLM.from_pretrained(str(name_or_path), output_loading_info=True, **kwargs)
    _check_loading_info(info, name_or_path)
    return model.eval()


# --------------------------------------------------------------------------------------------------
# nanoGPT
# --------------------------------------------------------------------------------------------------


def gpt_config_from_nanogpt(model_args: Mapping[str, Any], *, tie_word_embeddings: bool = True) -> GPTConfig:
    """Our configuration for nanoGPT's ``model_args`` (``n_layer``, ``n_head``, ``n_embd``, ``block_size``,
    ``bias``, ``vocab_size``, ``dropout``); nanoGPT ties ``lm_head`` to ``wte``, hence the default."""
    _check_nanogpt_args(model_args)
    return GPTConfig(
        vocab_size=model_args["vocab_size"],
        context_length=model_args["block_size"],
        emb_dim=model_args["n_embd"],
        n_heads=model_args["n_head"],
        n_layers=model_args["n_layer"],
        drop_rate=float(model_args.get("dropout", 0.0)),
        # Without biases, zero biases compute the same; the book's LayerNorm always has a shift.
        qkv_bias=bool(model_args["bias"]),
        gelu_approximate="none",  # nanoGPT's MLP uses nn.GELU(), the exact (erf) GELU
        init_scheme="gpt2",
        tie_word_embeddings=tie_word_embeddings,
    )


def _check_nanogpt_args(model_args: Mapping[str, Any]) -> None:
    unknown = sorted(set(model_args) - set(_NANOGPT_ARGS))
    if unknown:
        raise ValueError(
            f"nanoGPT model_args has keys {unknown} that karpathy/nanoGPT's GPT does not: "
            "this converter knows only its architecture"
        )
    missing = [key for key in _NANOGPT_ARGS if key not in model_args and key != "dropout"]
    if missing:
        raise ValueError(f"nanoGPT model_args lacks {missing}")
    if model_args["vocab_size"] < 50257:
        raise ValueError(
            f"nanoGPT vocab_size={model_args['vocab_size']} is smaller than GPT-2's 50257 (a character-level "
            "model?): only GPT-2-tokenized checkpoints convert, since the result ships GPT-2's tokenizer"
        )


def _nanogpt_shapes(args: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    width, bias = args["n_embd"], args["bias"]
    shapes = {
        "transformer.wte.weight": (args["vocab_size"], width),
        "transformer.wpe.weight": (args["block_size"], width),
    }

    def add(name: str, out_features: int, in_features: int | None = None) -> None:
        shapes[name + ".weight"] = (out_features,) if in_features is None else (out_features, in_features)
        if bias:
            shapes[name + ".bias"] = (out_features,)

    for i in range(args["n_layer"]):
        block = f"transformer.h.{i}."
        add(block + "ln_1", width)
        add(block + "attn.c_attn", 3 * width, width)
        add(block + "attn.c_proj", width, width)
        add(block + "ln_2", width)
        add(block + "mlp.c_fc", 4 * width, width)
        add(block + "mlp.c_proj", width, 4 * width)
    add("transformer.ln_f", width)
    shapes["lm_head.weight"] = (args["vocab_size"], width)
    return shapes


def _nanogpt_to_gpt2_layout(
    state_dict: dict[str, torch.Tensor], model_args: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    # nanoGPT's names are GPT-2's; its Linear weights are the transposes of GPT-2's Conv1D weights
    # (views here: gpt2_to_gpt_state_dict transposes them back without copying).
    out = {}
    for name, tensor in state_dict.items():
        if name.endswith(("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")):
            tensor = tensor.t()
        out[name] = tensor
    if not model_args["bias"]:
        for name, shape in _nanogpt_shapes({**model_args, "bias": True}).items():
            if name.endswith(".bias"):
                out[name] = state_dict["transformer.wte.weight"].new_zeros(shape)
    return out


def gpt_from_nanogpt(checkpoint: Mapping[str, Any]) -> GPTForCausalLM:
    """Our model from a loaded nanoGPT checkpoint (``{"model_args": ..., "model": state_dict, ...}``)."""
    if not isinstance(checkpoint, Mapping) or "model_args" not in checkpoint or "model" not in checkpoint:
        found = sorted(checkpoint)[:6] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise ValueError(f"a nanoGPT checkpoint is a dict with 'model_args' and 'model' (found {found})")
    model_args = dict(checkpoint["model_args"])
    # nanoGPT's attention keeps its causal mask as a buffer named `attn.bias` when flash attention is off.
    state_dict = {
        name: tensor
        for name, tensor in _strip_wrapper_prefixes(checkpoint["model"]).items()
        if not name.endswith(".attn.bias")
    }
    if model_args.get("vocab_size") is None and "transformer.wte.weight" in state_dict:
        model_args["vocab_size"] = state_dict["transformer.wte.weight"].shape[0]
    _check_nanogpt_args(model_args)
    check_state_dict(state_dict, _nanogpt_shapes(model_args), source="the nanoGPT checkpoint")
    wte, lm_head = state_dict["transformer.wte.weight"], state_dict["lm_head.weight"]
    # nanoGPT ties them; a modified nanoGPT may not, and then the head must stay its own.
    tied = wte.data_ptr() == lm_head.data_ptr() or torch.equal(wte, lm_head)
    config = gpt_config_from_nanogpt(model_args, tie_word_embeddings=tied)
    gpt2_layout = _nanogpt_to_gpt2_layout(state_dict, model_args)
    return _model_from_state_dict(
        GPTForCausalLM, config, gpt2_to_gpt_state_dict(gpt2_layout, config), source="the nanoGPT checkpoint"
    )


def load_nanogpt(path: str | Path) -> GPTForCausalLM:
    """Our model from nanoGPT's ``ckpt.pt`` (or the ``out`` directory holding it); see :func:`gpt_from_nanogpt`."""
    path = Path(path)
    if path.is_dir():
        path = path / "ckpt.pt"
    return gpt_from_nanogpt(load_torch_file(path))


# --------------------------------------------------------------------------------------------------
# Directory to directory
# --------------------------------------------------------------------------------------------------


def import_checkpoint(
    src: str | Path,
    out: str | Path,
    source_format: str,
    *,
    config: GPTConfig | None = None,
    revision: str | None = None,
) -> GPTForCausalLM:
    """Convert ``src`` into a checkpoint directory of this package (safetensors, config, tokenizer).

    Args:
        src: A book ``.pth`` file, a GPT-2 directory or Hub id, or nanoGPT's ``ckpt.pt``.
        out: The directory to write (replaced atomically).
        source_format: ``"book"``, ``"gpt2"`` or ``"nanogpt"``.
        config: The architecture, for ``"book"`` only (the others carry theirs).
        revision: For a GPT-2 Hub id: the branch, tag or commit to read (default: main).

    Returns:
        The converted model, as saved.
    """
    if source_format not in SOURCE_FORMATS:
        raise ValueError(f"source_format={source_format!r} is not one of {SOURCE_FORMATS}")
    if revision is not None and source_format != "gpt2":
        raise ValueError(f"a revision applies to GPT-2 Hub ids only, not to {source_format} checkpoint files")
    _check_distinct(src, out)
    if source_format == "book":
        if config is None:
            raise ValueError("the book's state dicts carry no config: pass one (--config FILE or --preset NAME)")
        model = load_book(src, config)
    elif config is not None:
        raise ValueError(f"{source_format} checkpoints carry their own config: --config/--preset apply to book only")
    elif source_format == "gpt2":
        model = load_gpt2(src, revision=revision)
    else:
        model = load_nanogpt(src)
    tokenizer = _tokenizer_beside(src, revision) if source_format == "gpt2" else None
    save_checkpoint(model, out, tokenizer=tokenizer)
    return model


def export_checkpoint(src: str | Path, out: str | Path, target_format: str = "gpt2") -> GPT2LMHeadModel:
    """Convert one of this package's checkpoints into a stock transformers GPT-2 checkpoint directory.

    The result loads with ``GPT2LMHeadModel``/``AutoModelForCausalLM`` and no custom code, so engines
    that serve GPT-2 serve it. Returns the converted model, as saved.
    """
    if target_format not in TARGET_FORMATS:
        raise ValueError(f"target_format={target_format!r} is not one of {TARGET_FORMATS}")
    _check_distinct(src, out)
    gpt2 = gpt2_from_gpt(load_gpt(src))
    save_checkpoint(gpt2, out, tokenizer=_tokenizer_beside(src))
    return gpt2


def _check_distinct(src: str | Path, out: str | Path) -> None:
    if Path(src).exists() and Path(src).resolve() == Path(out).resolve():
        raise ValueError(f"OUT must differ from SRC ({src}): the conversion would replace its own source")


__all__ = [
    "SOURCE_FORMATS",
    "TARGET_FORMATS",
    "check_state_dict",
    "export_checkpoint",
    "gpt2_config_from_gpt",
    "gpt2_from_gpt",
    "gpt2_to_gpt_state_dict",
    "gpt_config_from_gpt2",
    "gpt_config_from_nanogpt",
    "gpt_from_gpt2",
    "gpt_from_nanogpt",
    "gpt_to_gpt2_state_dict",
    "import_checkpoint",
    "load_book",
    "load_book_config",
    "load_gpt",
    "load_gpt2",
    "load_nanogpt",
    "load_torch_file",
]
