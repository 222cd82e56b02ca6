"""PEFT LoRA on the book's attention projections through ``train --lora-r``: trains, saves, reloads, merges."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from gpt_from_scratch.cli import main
from gpt_from_scratch.corpus import module_document

peft = pytest.importorskip("peft")


def test_lora_on_w_query_and_w_value_trains_saves_reloads_and_merges(tmp_path, tiny_checkpoint):
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"text": module_document(m)}) + "\n" for m in ("json", "shlex")))
    out = tmp_path / "lora"
    flags = [
        "train", "--dataset", "json", "--data-files", str(data), "--model", str(tiny_checkpoint),
        "--lora-r", "4", "--lora-alpha", "8", "--validation-fraction", "0",
        "--output-dir", str(out), "--max-steps", "3", "--per-device-train-batch-size", "2",
        "--learning-rate", "1e-2", "--save-strategy", "no", "--use-cpu", "--disable-tqdm", "true",
    ]  # fmt: skip
    assert main(flags) == 0

    # Only the adapter is saved, and only on the book's W_query/W_value.
    assert not (out / "model.safetensors").exists()
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all(".att.W_query.lora_" in key or ".att.W_value.lora_" in key for key in adapter)
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4

    base = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    base_weights = {key: value.clone() for key, value in base.state_dict().items()}
    tuned = peft.PeftModel.from_pretrained(base, out).eval()
    input_ids = torch.tensor([[464, 3303, 318, 257, 1332, 286, 262, 1080]])
    with torch.no_grad():
        tuned_logits = tuned(input_ids=input_ids).logits
        merged = tuned.merge_and_unload()
        merged_logits = merged(input_ids=input_ids).logits
        base_logits = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)(input_ids=input_ids).logits
    torch.testing.assert_close(merged_logits, tuned_logits, atol=1e-5, rtol=1e-5)
    assert (merged_logits - base_logits).abs().max() > 1e-4  # the adapter learned something

    # The merge is W + (alpha / r) * B @ A, from the saved adapter; the other weights are untouched.
    merged_weights = merged.state_dict()
    key = "trf_blocks.0.att.W_query.weight"
    a = adapter["base_model.model.trf_blocks.0.att.W_query.lora_A.weight"]
    b = adapter["base_model.model.trf_blocks.0.att.W_query.lora_B.weight"]
    torch.testing.assert_close(merged_weights[key], base_weights[key] + (8 / 4) * b @ a)
    assert torch.equal(merged_weights["trf_blocks.0.att.W_key.weight"], base_weights["trf_blocks.0.att.W_key.weight"])
