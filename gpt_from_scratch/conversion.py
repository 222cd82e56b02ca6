"""Weight mapping between this model and stock transformers GPT-2 (``GPT2LMHeadModel``).

The single place that knows how the book's names and shapes relate to GPT-2's: the book keeps
``W_query``/``W_key``/``W_value`` as separate ``nn.Linear`` (weights ``(out, in)``), GPT-2 fuses them in
one ``Conv1D`` ``c_attn`` (weights ``(in, out)``).
"""

from __future__ import annotations

import torch
from transformers import GPT2Config

from .configuration_gpt import GPTConfig

# Per-block LayerNorm and Linear pairs: (ours, GPT-2's). Conv1D weights are transposed Linear weights.
_BLOCK_NORMS = {"norm1": "ln_1", "norm2": "ln_2"}
_BLOCK_LINEARS = {"att.out_proj": "attn.c_proj", "ff.layers.0": "mlp.c_fc", "ff.layers.2": "mlp.c_proj"}
_QKV = ("W_query", "W_key", "W_value")


def gpt2_config_from_gpt(config: GPTConfig) -> GPT2Config:
    """The stock GPT-2 configuration of the same architecture."""
    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.context_length,
        n_embd=config.emb_dim,
        n_layer=config.n_layers,
        n_head=config.n_heads,
        activation_function="gelu_new",  # GELU with the tanh approximation, the book's
        resid_pdrop=config.drop_rate,
        embd_pdrop=config.drop_rate,
        attn_pdrop=config.drop_rate,
        layer_norm_epsilon=config.layer_norm_epsilon,
        tie_word_embeddings=config.tie_word_embeddings,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
    )


def gpt_config_from_gpt2(config: GPT2Config, *, qkv_bias: bool = True) -> GPTConfig:
    """Our configuration for a stock GPT-2 one (OpenAI's weights have query/key/value biases)."""
    if config.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(
            f"activation_function={config.activation_function!r} is not GELU with the tanh approximation, "
            "the only activation this model has"
        )
    if config.n_inner not in (None, 4 * config.n_embd):
        raise ValueError(f"n_inner={config.n_inner} is not 4 * n_embd={4 * config.n_embd}, the book's width")
    return GPTConfig(
        vocab_size=config.vocab_size,
        context_length=config.n_positions,
        emb_dim=config.n_embd,
        n_heads=config.n_head,
        n_layers=config.n_layer,
        drop_rate=float(config.resid_pdrop),
        qkv_bias=qkv_bias,
        layer_norm_epsilon=config.layer_norm_epsilon,
        tie_word_embeddings=config.tie_word_embeddings,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
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
