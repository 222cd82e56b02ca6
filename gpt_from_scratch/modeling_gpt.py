"""The book's GPT as a transformers model.

One implementation, with the book's module and parameter names (``tok_emb``, ``pos_emb``,
``trf_blocks.N.att.W_query``, ``ff``, ``norm1``, ``final_norm``, ``out_head``), so the book's state
dicts load as they are, and transformers' interfaces (``input_ids``, ``attention_mask``, ``cache``,
``labels``, ``generate()``, attention backends) on top.

This file is copied next to checkpoints pushed to the Hub (``trust_remote_code``), so it imports only
``configuration_gpt`` (relatively) and installed packages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from safetensors import SafetensorError
from torch import nn
from torch.nn import functional as F
from torch.nn.modules import module as torch_module
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer
from transformers.generation import GenerationConfig, GenerationMixin
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel, slice_logits_to_keep
from transformers.models.gpt2.modeling_gpt2 import eager_attention_forward
from transformers.utils import can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_gpt import GPTConfig


class LayerNorm(nn.Module):
    """The book's LayerNorm: learnable ``scale`` and ``shift``, biased variance."""

    def __init__(self, emb_dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Same maths as the book's mean/var formula, in one fused kernel.
        return F.layer_norm(x, self.scale.shape, self.scale, self.shift, self.eps)


class FeedForward(nn.Module):
    """Linear -> GELU (the tanh approximation of the book and GPT-2 by default) -> Linear."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(config.emb_dim, 4 * config.emb_dim),
            nn.GELU(approximate=config.gelu_approximate),
            nn.Linear(4 * config.emb_dim, config.emb_dim),
        )
        self.layers[2].writes_residual = True  # read by GPTPreTrainedModel._init_weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _drop_book_causal_mask(module, state_dict, prefix, *args) -> None:
    # The book registers its causal mask as a persistent buffer, so its state dicts carry
    # `trf_blocks.N.att.mask`. Our mask comes from transformers' masking utilities instead.
    state_dict.pop(prefix + "mask", None)


class MultiHeadAttention(nn.Module):
    """The book's causal multi-head attention, computed by transformers' attention interface.

    ``config._attn_implementation`` picks the kernel: ``"sdpa"`` (default), ``"eager"``,
    ``"flash_attention_2"`` where installed, or any registered backend.
    """

    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.num_heads = config.n_heads
        self.head_dim = config.emb_dim // config.n_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = True
        self.W_query = nn.Linear(config.emb_dim, config.emb_dim, bias=config.qkv_bias)
        self.W_key = nn.Linear(config.emb_dim, config.emb_dim, bias=config.qkv_bias)
        self.W_value = nn.Linear(config.emb_dim, config.emb_dim, bias=config.qkv_bias)
        self.out_proj = nn.Linear(config.emb_dim, config.emb_dim)
        self.out_proj.writes_residual = True  # read by GPTPreTrainedModel._init_weights
        self.dropout = nn.Dropout(config.drop_rate)
        self.register_load_state_dict_pre_hook(_drop_book_causal_mask)
        # While generate() decodes: W_query, W_key and W_value stacked into one (weight, bias), so each
        # step reads them in one matrix product. Set and cleared by GPTForCausalLM._fused_qkv_for_decode.
        self.fused_qkv: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq_len, _ = hidden_states.shape
        heads_shape = (batch, seq_len, self.num_heads, self.head_dim)
        if self.fused_qkv is None:
            projections = self.W_query(hidden_states), self.W_key(hidden_states), self.W_value(hidden_states)
        else:
            projections = linear_across_threads(hidden_states, *self.fused_qkv).chunk(3, dim=-1)
        query, key, value = (p.view(heads_shape).transpose(1, 2) for p in projections)

        if cache is not None:
            key, value = cache.update(key, value, self.layer_idx)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        context, attn_weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout.p if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        context = context.reshape(batch, seq_len, -1).contiguous()
        return self.out_proj(context), attn_weights


class PreallocatedLayer(DynamicLayer):
    """transformers' ``DynamicLayer`` that writes new keys and values into room set aside in advance.

    ``DynamicLayer`` concatenates: every decoding step allocates a cache one token longer and copies the
    old one into it (on CPU, every such allocation also page-faults its memory in again). This layer
    allocates room for ``max_length`` positions once (``generate()`` knows its final length), or without
    that hint doubles its room when full, and gives attention views of the filled part. The rest
    (cropping, beam reordering, batch selection, offloading) is ``DynamicLayer``'s: those replace ``keys``
    and ``values``, and the next update moves them into new room.
    """

    def __init__(self, max_length: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_length = max_length
        self._room: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if torch.compiler.is_compiling():
            # A compiled graph cannot compare data pointers; it gets DynamicLayer's concatenation, which
            # leaves `keys` outside the room, so the next eager update moves them into new room.
            return super().update(key_states, value_states, *args, **kwargs)
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        past = self.get_seq_length()
        total = past + key_states.shape[-2]
        if not self._room_holds(key_states, past, total):
            self._make_room(key_states, past, total)
        room_keys, room_values = self._room
        room_keys[..., past:total, :] = key_states
        room_values[..., past:total, :] = value_states
        self.keys, self.values = room_keys[..., :total, :], room_values[..., :total, :]
        return self.keys, self.values

    def _room_holds(self, key_states: torch.Tensor, past: int, total: int) -> bool:
        """Whether the current room fits ``total`` positions and already holds the ``past`` ones."""
        if self._room is None:
            return False
        room_keys, room_values = self._room
        fits = (
            room_keys.shape[:2] == key_states.shape[:2]
            and room_keys.shape[-1] == key_states.shape[-1]
            and room_keys.dtype == key_states.dtype
            and room_keys.device == key_states.device
            and total <= room_keys.shape[-2]
        )
        # `keys` is still a view of the room unless a DynamicLayer method replaced it.
        in_place = past == 0 or (
            self.keys.data_ptr() == room_keys.data_ptr() and self.values.data_ptr() == room_values.data_ptr()
        )
        return fits and in_place

    def _make_room(self, key_states: torch.Tensor, past: int, total: int) -> None:
        if self.max_length is not None and total <= self.max_length:
            capacity = self.max_length
        else:  # no hint (a plain forward pass, which may be the only one) or outgrown: exact first, then doubling
            capacity = total if past == 0 else 2 * total
        shape = (*key_states.shape[:-2], capacity, key_states.shape[-1])
        room_keys, room_values = key_states.new_empty(shape), key_states.new_empty(shape)
        if past:
            room_keys[..., :past, :] = self.keys
            room_values[..., :past, :] = self.values
        self._room = (room_keys, room_values)


def preallocated_cache(config: GPTConfig, max_length: int | None = None) -> DynamicCache:
    """A ``DynamicCache`` for ``config`` whose layers are :class:`PreallocatedLayer` (room for ``max_length``)."""
    cache = DynamicCache(config=config)
    cache.layers = [PreallocatedLayer(max_length=max_length) for _ in cache.layers]
    return cache


class TransformerBlock(GradientCheckpointingLayer):
    """Pre-LayerNorm block: attention and feed-forward, each with a residual shortcut."""

    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        # Creation order (att, ff, norm1, norm2) fixes which random numbers each weight gets.
        self.att = MultiHeadAttention(config, layer_idx)
        self.ff = FeedForward(config)
        self.norm1 = LayerNorm(config.emb_dim, config.layer_norm_epsilon)
        self.norm2 = LayerNorm(config.emb_dim, config.layer_norm_epsilon)
        self.drop_shortcut = nn.Dropout(config.drop_rate)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        attn_output, _ = self.att(self.norm1(hidden_states), attention_mask, cache, **kwargs)
        hidden_states = hidden_states + self.drop_shortcut(attn_output)
        return hidden_states + self.drop_shortcut(self.ff(self.norm2(hidden_states)))


class GPTPreTrainedModel(PreTrainedModel):
    """Weight initialisation and the class attributes transformers reads."""

    config: GPTConfig
    config_class = GPTConfig
    # The book's parameter names are flat (no `transformer.` prefix) in both the base model and the
    # LM model, so checkpoints of either load into the other without renaming.
    base_model_prefix = ""
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["TransformerBlock"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = True
    _keys_to_ignore_on_load_unexpected = [r"att\.mask$"]
    _can_record_outputs = {
        "hidden_states": TransformerBlock,
        "attentions": OutputRecorder(MultiHeadAttention, index=1),
    }

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        """transformers' ``from_pretrained``, with errors that name the file or the tensors at fault."""
        try:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except SafetensorError as error:
            raise ValueError(
                f"{pretrained_model_name_or_path}: a safetensors weights file is truncated or corrupt ({error}); "
                "save or download the checkpoint again"
            ) from error
        except RuntimeError as error:
            if "ignore_mismatched_sizes" not in str(error):
                raise
            # Load again, keeping the mismatches, only to report them by name and shape.
            _, info = super().from_pretrained(
                pretrained_model_name_or_path,
                *args,
                **{**kwargs, "ignore_mismatched_sizes": True, "output_loading_info": True},
            )
            mismatches = sorted(info["mismatched_keys"])
            details = "; ".join(
                f"{name} has shape {tuple(stored)} in the checkpoint but the config needs {tuple(expected)}"
                for name, stored, expected in mismatches[:3]
            )
            more = f" (and {len(mismatches) - 3} more)" if len(mismatches) > 3 else ""
            raise ValueError(
                f"{pretrained_model_name_or_path}: the weights do not fit config.json: {details}{more}"
            ) from error

    def _init_weights(self, module: nn.Module) -> None:
        if self.config.init_scheme == "book":
            # PyTorch's own defaults, as the book's model gets from its layers' constructors.
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.reset_parameters()
            elif isinstance(module, LayerNorm):
                init.ones_(module.scale)
                init.zeros_(module.shift)
            return

        std = self.config.initializer_range
        if getattr(module, "writes_residual", False):
            # GPT-2's scaled init of the two projections per block that write into the residual stream.
            std /= math.sqrt(2 * self.config.n_layers)
        if isinstance(module, (nn.Linear, nn.Embedding)):
            init.normal_(module.weight, mean=0.0, std=std)
            if getattr(module, "bias", None) is not None:
                init.zeros_(module.bias)
        elif isinstance(module, LayerNorm):
            init.ones_(module.scale)
            init.zeros_(module.shift)


class GPTBaseModel(GPTPreTrainedModel):
    """The GPT body: embeddings, transformer blocks and the final norm; returns hidden states.

    This is what ``AutoModel`` builds for a ``gpt_from_scratch`` config.
    """

    # A causal-LM checkpoint loaded as a base model carries the output head: expected, not a problem.
    _keys_to_ignore_on_load_unexpected = [r"att\.mask$", r"^out_head\."]

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self._build_body(config)
        self.post_init()

    def _build_body(self, config: GPTConfig) -> None:
        # The layers' constructors draw PyTorch's default init; `post_init` draws it again, in the same
        # (creation) order. Forking the RNG discards the first draw, so a seeded model gets exactly the
        # book's weights and leaves the RNG where the book's constructor leaves it.
        with torch.random.fork_rng(devices=[]):
            self.tok_emb = nn.Embedding(config.vocab_size, config.emb_dim)
            self.pos_emb = nn.Embedding(config.context_length, config.emb_dim)
            self.drop_emb = nn.Dropout(config.drop_rate)
            self.trf_blocks = nn.ModuleList(TransformerBlock(config, i) for i in range(config.n_layers))
            self.final_norm = LayerNorm(config.emb_dim, config.layer_norm_epsilon)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.tok_emb

    def set_input_embeddings(self, new_embeddings: nn.Embedding) -> None:
        self.tok_emb = new_embeddings

    def _check_inputs(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        past_length: int,
    ) -> None:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if input_ids is not None:
            if input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool:
                raise TypeError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
            if input_ids.ndim != 2:
                raise ValueError(f"input_ids must have shape (batch, tokens), got {tuple(input_ids.shape)}")
        shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:2]
        if shape[1] == 0:
            raise ValueError("input_ids is empty: pass at least one token")
        total = past_length + shape[1]
        if total > self.config.context_length:
            raise ValueError(
                f"{total} positions ({past_length} cached + {shape[1]} new) exceed context_length="
                f"{self.config.context_length}, the number of learned position embeddings; "
                "crop the input to its last context_length tokens"
            )
        if attention_mask is not None and attention_mask.ndim == 2 and attention_mask.shape != (shape[0], total):
            raise ValueError(
                f"attention_mask has shape {tuple(attention_mask.shape)} but the inputs need ({shape[0]}, {total})"
            )
        if torch.compiler.is_compiling():
            return
        if input_ids is not None and input_ids.numel() > 0:
            low, high = int(input_ids.min()), int(input_ids.max())
            if low < 0 or high >= self.config.vocab_size:
                bad = low if low < 0 else high
                raise ValueError(
                    f"input_ids contains token id {bad}, outside 0..{self.config.vocab_size - 1} (vocab_size)"
                )
        if inputs_embeds is not None and not torch.isfinite(inputs_embeds).all():
            raise ValueError("inputs_embeds contains NaN or inf values")

    @merge_with_config_defaults
    @capture_outputs
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        r"""Run the body.

        Args:
            input_ids: Token ids of shape ``(batch, tokens)``; with a ``cache``, only the new tokens.
            attention_mask: 1 for real tokens, 0 for padding, over cached and new tokens.
            position_ids: Positions of the new tokens; derived from ``attention_mask`` when omitted,
                so left-padded rows start at position 0.
            cache: Key/value cache (a transformers ``Cache``) to extend.
            inputs_embeds: Token embeddings instead of ``input_ids``.
            use_cache: Return the (possibly new) cache; defaults to ``config.use_cache``.
        """
        if use_cache and cache is None:
            cache = preallocated_cache(self.config)
        past_length = cache.get_seq_length() if cache is not None else 0
        self._check_inputs(input_ids, inputs_embeds, attention_mask, past_length)

        if inputs_embeds is None:
            inputs_embeds = self.tok_emb(input_ids)
        seq_len = inputs_embeds.shape[1]
        if position_ids is None:
            if attention_mask is not None and attention_mask.ndim == 2:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -seq_len:]
            else:
                position_ids = torch.arange(past_length, past_length + seq_len, device=inputs_embeds.device)
                position_ids = position_ids.unsqueeze(0)

        hidden_states = self.drop_emb(inputs_embeds + self.pos_emb(position_ids))
        causal_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            cache=cache,
            position_ids=position_ids,
        )
        for block in self.trf_blocks:
            hidden_states = block(hidden_states, causal_mask, cache, position_ids=position_ids, **kwargs)
        hidden_states = self.final_norm(hidden_states)

        return BaseModelOutputWithPast(last_hidden_state=hidden_states, cache=cache if use_cache else None)


def _is_cpu_float32(weight: torch.Tensor) -> bool:
    """Whether products with this weight run on MKL's float32 CPU kernels, which decoding lays out for
    (input-major wide weights) and splits across threads (see :func:`linear_across_threads`)."""
    return weight.device.type == "cpu" and weight.dtype == torch.float32


# Splitting a product across threads pays off only if each thread's block of the weight takes longer to read
# than the batched call costs: on the 124M model's 768x768 layers it does, on 128-wide layers it does not.
_MIN_ELEMENTS_PER_THREAD = 1 << 18


def _thread_parts(weight: torch.Tensor) -> int:
    """Into how many blocks of output features :func:`linear_across_threads` splits a product with ``weight``."""
    if not _is_cpu_float32(weight):
        return 1
    return max(1, min(torch.get_num_threads(), weight.numel() // _MIN_ELEMENTS_PER_THREAD, weight.shape[0]))


def linear_across_threads(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, parts: int | None = None
) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for the few rows of a decoding step, spread over torch's threads.

    MKL's float32 product of a few rows with a large matrix runs on one thread, so on CPU it reads the
    weight at the memory bandwidth one core can draw. Here the output features are split into ``parts``
    blocks (default: one per torch thread, on CPU float32 only), computed by one batched product that gives
    each thread its own block of the weight; the weight's layout is read as it is, nothing is copied.
    """
    if parts is None:
        parts = _thread_parts(weight)
    if parts <= 1:
        return F.linear(x, weight, bias)
    out_features, in_features = weight.shape
    block = out_features // parts
    blocks = weight.as_strided(
        (parts, block, in_features), (block * weight.stride(0), weight.stride(0), weight.stride(1))
    )
    rows = x.reshape(-1, in_features)
    out = torch.matmul(rows, blocks.transpose(1, 2))  # (parts, rows, block)
    out = out.transpose(0, 1).reshape(rows.shape[0], parts * block)
    if parts * block < out_features:  # the few features left over when the blocks do not divide evenly
        out = torch.cat([out, F.linear(rows, weight[parts * block :])], dim=-1)
    if bias is not None:
        out = out + bias
    return out.view(*x.shape[:-1], out_features)


def _linear_forward_across_threads(module: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return linear_across_threads(x, module.weight, module.bias)


def _runs_forward_hooks(layer: nn.Module) -> bool:
    """Whether calling ``layer`` runs forward hooks, its own or global ones (``register_module_forward_hook``)."""
    own = layer._forward_hooks or layer._forward_pre_hooks
    return bool(own or torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks)


@torch.no_grad()
def _stack_projections(*layers: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """The (weight, bias) of one ``nn.Linear`` computing all ``layers`` side by side, or ``None`` where
    one of them is not a plain ``nn.Linear`` (an adapter, a quantised layer) or carries hooks."""
    if not all(type(layer) is nn.Linear and not _runs_forward_hooks(layer) for layer in layers):
        return None
    weights = [layer.weight for layer in layers]
    if _is_cpu_float32(weights[0]):
        weight = torch.cat([w.t() for w in weights], dim=1).t()  # one copy, straight into input-major
    else:
        weight = torch.cat(weights)
    bias = None if layers[0].bias is None else torch.cat([layer.bias for layer in layers])
    return weight, bias


class GPTForCausalLM(GPTBaseModel, GenerationMixin):
    """The GPT body with the book's ``out_head``: a causal language model for ``generate()``,
    ``pipeline("text-generation")`` and the ``Trainer``.

    It extends :class:`GPTBaseModel` rather than wrapping it so the parameter names stay the book's
    (``tok_emb.weight``, ..., ``out_head.weight``) and the book's state dicts load with ``strict=True``.
    """

    _tied_weights_keys = {"out_head.weight": "tok_emb.weight"}

    def __init__(self, config: GPTConfig):
        GPTPreTrainedModel.__init__(self, config)
        self._build_body(config)
        with torch.random.fork_rng(devices=[]):
            self.out_head = nn.Linear(config.emb_dim, config.vocab_size, bias=False)
        self.post_init()
        # GPT-2 has no padding token: rows that finish early are padded with end-of-text, as stock GPT-2
        # pipelines do, so `generate()` neither guesses nor warns. Saved in generation_config.json.
        if self.generation_config is not None:
            if self.generation_config.pad_token_id is None:
                self.generation_config.pad_token_id = config.eos_token_id
            # A generation config marked as derived from the model config drops custom fields such as
            # `crop_to_context` when loaded back; this one is the model's own.
            self.generation_config._from_model_config = False

    def get_output_embeddings(self) -> nn.Linear:
        return self.out_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.out_head = new_embeddings

    # -- generate() ---------------------------------------------------------------------------------

    @contextmanager
    def _optimize_model_for_decode(self) -> Iterator[None]:
        # Entered by greedy and sampling decoding (not beam search) after the prompt's forward pass.
        self._store_linear_weights_input_major()
        with self._fused_qkv_for_decode(), self._linears_across_threads(), super()._optimize_model_for_decode():
            yield

    def _store_linear_weights_input_major(self) -> None:
        """Store the weights of the widening ``nn.Linear`` layers (the output head and the feed-forward's
        first layer) input-major, as GPT-2's ``Conv1D`` stores its weights.

        Decoding multiplies one row per sequence by each weight matrix, and on CPU MKL's float32
        matrix-vector product reads a wide input-major matrix markedly faster (the 124M model's output
        head: about 1.4x; see ``scripts/bench_generate.py``), while narrowing layers, and bfloat16
        weights, are faster as they are. Only the strides change, as with ``channels_last``: shapes,
        values, parameter names and the saved state dict stay the book's. Done once; later calls find
        the weights already in place.
        """
        shared = self.get_input_embeddings().weight  # a tied output head stays row-major for the lookup
        # Outside inference mode, so that the new storage stays usable for training afterwards.
        with torch.inference_mode(False), torch.no_grad():
            for module in self.modules():
                # Plain layers only: quantised subclasses keep the layout their kernels expect.
                if type(module) is not nn.Linear or module.out_features <= module.in_features:
                    continue
                weight = module.weight
                if weight is not shared and _is_cpu_float32(weight) and weight.stride(0) != 1:
                    weight.data = weight.data.t().contiguous().t()

    @contextmanager
    def _fused_qkv_for_decode(self) -> Iterator[None]:
        """Stack each block's ``W_query``, ``W_key`` and ``W_value`` into one matrix while decoding.

        A decoding step reads every weight once for a single row per sequence; one 3x-wide product reads
        the three matrices faster than three small ones (on the 124M model on CPU, the step takes about
        8% less time; see ``scripts/bench_generate.py``). The stacked copy is what GPT-2's fused ``c_attn``
        holds; it lives only for this decoding loop, so the parameters, their names and the saved state
        dict stay the book's, and training in between cannot leave it stale. Layers replaced by adapters
        or quantised layers, or carrying hooks, are left to run as they are.
        """
        attentions = [module for module in self.modules() if isinstance(module, MultiHeadAttention)]
        try:
            for attention in attentions:
                attention.fused_qkv = _stack_projections(attention.W_query, attention.W_key, attention.W_value)
            yield
        finally:
            for attention in attentions:
                attention.fused_qkv = None

    @contextmanager
    def _linears_across_threads(self) -> Iterator[None]:
        """Compute the large ``nn.Linear`` layers with :func:`linear_across_threads` while decoding.

        With one row per sequence, each product reads its whole weight for little arithmetic, and MKL's
        float32 kernel reads it on one thread; split across threads, a decoding step of the 124M model on
        two cores takes about a fifth less time (``scripts/bench_generate.py``). Only the instances'
        ``forward`` is swapped, so hooks, adapters wrapping a layer (LoRA calls its base layer) and the
        weights are as before; layers whose ``forward`` another library already replaced (accelerate's
        offloading hooks) and layer types other than plain ``nn.Linear`` are left alone.
        """
        swapped = []
        try:
            for module in self.modules():
                if type(module) is nn.Linear and "forward" not in vars(module) and _thread_parts(module.weight) > 1:
                    module.forward = partial(_linear_forward_across_threads, module)
                    swapped.append(module)
            yield
        finally:
            for module in swapped:
                del module.forward

    def _prepare_cache_for_generation(
        self,
        generation_config: GenerationConfig,
        model_kwargs: dict[str, Any],
        generation_mode: Any,
        batch_size: int,
        max_cache_length: int,
    ) -> None:
        """transformers' cache choice; its default ``DynamicCache`` gets room for the whole generation."""
        user_cache = model_kwargs.get("cache")
        super()._prepare_cache_for_generation(
            generation_config, model_kwargs, generation_mode, batch_size, max_cache_length
        )
        if (
            user_cache is None
            and type(model_kwargs.get("cache")) is DynamicCache
            and generation_config.cache_implementation in (None, "dynamic")
        ):
            model_kwargs["cache"] = preallocated_cache(self.config, max_length=max_cache_length)

    # Learned position embeddings end at `context_length`. By default generate() refuses, before any
    # compute, a request that would need more positions. `crop_to_context=True` (a generate() argument,
    # or a field of the generation config / generation_config.json) opts into the book's behaviour
    # instead: once the sequence outgrows the window, every step re-reads only its last `context_length`
    # tokens at positions 0..context_length-1, exactly as `generate_text_simple` does.

    def _prepare_generation_config(
        self, generation_config: GenerationConfig | None, **kwargs: Any
    ) -> tuple[GenerationConfig, dict[str, Any]]:
        crop_to_context = kwargs.pop("crop_to_context", None)
        generation_config, model_kwargs = super()._prepare_generation_config(generation_config, **kwargs)
        if crop_to_context is None:
            crop_to_context = getattr(generation_config, "crop_to_context", False)
        if not isinstance(crop_to_context, bool):
            raise TypeError(f"crop_to_context must be True or False, got {crop_to_context!r}")
        generation_config.crop_to_context = crop_to_context
        if crop_to_context:
            # Decoding steps see model kwargs, not the generation config.
            model_kwargs["crop_to_context"] = True
        return generation_config, model_kwargs

    def _validate_generated_length(
        self, generation_config: GenerationConfig, input_ids_length: int, has_default_max_length: bool
    ) -> None:
        super()._validate_generated_length(generation_config, input_ids_length, has_default_max_length)
        if getattr(generation_config, "crop_to_context", False):
            return
        limit = self.config.context_length
        # The last new token is never fed back into the model, so a sequence may end one token past the window.
        if generation_config.max_length - 1 > limit:
            new_tokens = generation_config.max_length - input_ids_length
            if input_ids_length > limit:
                problem = f"the prompt has {input_ids_length} tokens, more than context_length={limit}"
            else:
                problem = (
                    f"a prompt of {input_ids_length} tokens plus max_new_tokens={new_tokens} needs "
                    f"{generation_config.max_length - 1} positions, more than context_length={limit} "
                    f"(at most {limit + 1 - input_ids_length} new tokens fit after this prompt)"
                )
            raise ValueError(
                f"{problem}; the model has learned position embeddings for {limit} positions only. Shorten the "
                f"prompt or max_new_tokens, or pass crop_to_context=True to generate() to keep only the last "
                f"{limit} tokens at each step, as the book's generate_text_simple does"
            )

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.LongTensor,
        next_sequence_length: int | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        is_first_iteration: bool | None = False,
        crop_to_context: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """transformers' preparation, plus the book's window cropping when ``crop_to_context`` is set."""
        window = self.config.context_length
        past_length = cache.get_seq_length() if cache is not None else 0
        new_length = input_ids.shape[1] - past_length if next_sequence_length is None else next_sequence_length
        if crop_to_context and past_length + new_length > window:
            if inputs_embeds is not None and is_first_iteration:
                raise ValueError("crop_to_context=True needs the prompt as input_ids, not inputs_embeds")
            # Every position moves when the window slides, so nothing cached stays valid: recompute the
            # window from scratch, as the book's loop does at every step.
            if cache is not None:
                cache.reset()
            input_ids = input_ids[:, -window:]
            next_sequence_length = None
            if attention_mask is not None:
                attention_mask = attention_mask[:, -window:]
                kwargs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
            else:
                kwargs["position_ids"] = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        return super().prepare_inputs_for_generation(
            input_ids,
            next_sequence_length=next_sequence_length,
            cache=cache,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            is_first_iteration=is_first_iteration,
            **kwargs,
        )

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        r"""Next-token logits, and the shifted cross-entropy when ``labels`` are given.

        Args:
            labels: Token ids of shape ``(batch, tokens)``, usually ``input_ids`` itself: the model
                shifts them. ``-100`` marks positions to ignore.
            logits_to_keep: Compute logits for only the last N positions (``0``: all); ``generate()``
                uses 1 while decoding.

        The other arguments are :meth:`GPTBaseModel.forward`'s.
        """
        if labels is not None:
            expected = input_ids.shape if input_ids is not None else inputs_embeds.shape[:2]
            if labels.shape != expected:
                raise ValueError(f"labels has shape {tuple(labels.shape)} but the inputs have {tuple(expected)}")
        outputs: BaseModelOutputWithPast = super().forward(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        logits = self.out_head(slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep))

        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **kwargs)

        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


__all__ = ["GPTBaseModel", "GPTForCausalLM", "GPTPreTrainedModel"]
