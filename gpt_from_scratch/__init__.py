"""The GPT of *Build a Large Language Model (From Scratch)* as a first-class transformers model.

Importing this package registers the ``gpt_from_scratch`` model type with ``AutoConfig``,
``AutoModel`` and ``AutoModelForCausalLM``, and registers the classes for ``auto_map`` so that saved
checkpoints carry their code for ``trust_remote_code``.
"""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from .book import GPTModel, generate_text_simple, text_to_token_ids, token_ids_to_text
from .configuration_gpt import GPT_CONFIG_124M, PRESETS, GPTConfig
from .modeling_gpt import GPTBaseModel, GPTForCausalLM, GPTPreTrainedModel
from .tokenization import build_gpt2_tokenizer, get_gpt2_encoding, save_tokenizer

AutoConfig.register(GPTConfig.model_type, GPTConfig, exist_ok=True)
AutoModel.register(GPTConfig, GPTBaseModel, exist_ok=True)
AutoModelForCausalLM.register(GPTConfig, GPTForCausalLM, exist_ok=True)
# `save_pretrained` / `push_to_hub` then copy configuration_gpt.py and modeling_gpt.py beside the weights
# and write `auto_map`, so `trust_remote_code=True` loads checkpoints where this package is not installed.
GPTConfig.register_for_auto_class()
GPTBaseModel.register_for_auto_class("AutoModel")
GPTForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__version__ = "0.1.0"

__all__ = [
    "GPT_CONFIG_124M",
    "PRESETS",
    "GPTBaseModel",
    "GPTConfig",
    "GPTForCausalLM",
    "GPTModel",
    "GPTPreTrainedModel",
    "build_gpt2_tokenizer",
    "generate_text_simple",
    "get_gpt2_encoding",
    "save_tokenizer",
    "text_to_token_ids",
    "token_ids_to_text",
]
