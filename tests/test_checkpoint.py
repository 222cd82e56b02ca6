"""Checkpoints: safetensors + config + generation config + tokenizer, bit-exact round trips,
loading in a fresh process, and saves that never leave a half-written directory in place."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from gpt_from_scratch import GPTConfig, GPTForCausalLM, GPTModel
from gpt_from_scratch.checkpoint import atomic_directory, save_checkpoint
from tests.conftest import TINY_BOOK_CONFIG


def test_saved_files_and_bit_exact_round_trip(tmp_path, tiny_model, gpt2_tokenizer):
    path = save_checkpoint(tiny_model, tmp_path / "ckpt", tokenizer=gpt2_tokenizer)
    names = {p.name for p in path.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not any(name.endswith((".bin", ".pth", ".pt")) for name in names)
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "gpt_from_scratch" and config["architectures"] == ["GPTForCausalLM"]
    stored = load_file(path / "model.safetensors")
    assert not any("mask" in key for key in stored)
    loaded = AutoModelForCausalLM.from_pretrained(path)
    assert type(loaded) is GPTForCausalLM
    original = tiny_model.state_dict()
    assert loaded.state_dict().keys() == original.keys()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, original[name]), name
    assert AutoTokenizer.from_pretrained(path).eos_token_id == 50256


def test_book_face_saves_as_the_causal_lm_and_loads_too(tmp_path):
    model = GPTModel(TINY_BOOK_CONFIG).eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    # Hub code must not need this package: the book face is saved as the GPTForCausalLM it is.
    assert config["architectures"] == ["GPTForCausalLM"]
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_gpt.GPTForCausalLM"
    assert not (tmp_path / "book.py").exists()
    ids = torch.tensor([[1, 2, 3, 4]])
    loaded = GPTModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))
        assert torch.equal(AutoModelForCausalLM.from_pretrained(tmp_path)(input_ids=ids).logits, model(ids))
    # generate() and the keyword interface work on the book face too.
    generated = model.generate(input_ids=ids, max_new_tokens=3, do_sample=False)
    assert generated.shape == (1, 7)
    assert torch.equal(model(input_ids=ids).logits, model(ids))


def test_tied_checkpoint_round_trip(tmp_path):
    model = GPTForCausalLM(GPTConfig(**TINY_BOOK_CONFIG, tie_word_embeddings=True))
    model.save_pretrained(tmp_path)
    loaded = GPTForCausalLM.from_pretrained(tmp_path)
    assert loaded.out_head.weight is loaded.tok_emb.weight
    assert torch.equal(loaded.tok_emb.weight, model.tok_emb.weight)


def test_auto_model_loads_in_a_fresh_process(tmp_path, tiny_checkpoint, tiny_model):
    ids = [[6109, 3626, 6100, 345]]
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)(input_ids=torch.tensor(ids)).logits
    torch.save(expected, tmp_path / "expected.pt")
    code = textwrap.dedent(
        f"""
        import torch, gpt_from_scratch
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained({str(tiny_checkpoint)!r}).eval()
        with torch.no_grad():
            logits = model(input_ids=torch.tensor({ids})).logits
        assert type(model).__name__ == "GPTForCausalLM", type(model)
        assert torch.equal(logits, torch.load({str(tmp_path / "expected.pt")!r})), "logits differ"
        print("ok")
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_atomic_directory_keeps_the_previous_checkpoint_on_failure(tmp_path, tiny_model):
    target = tmp_path / "ckpt"
    save_checkpoint(tiny_model, target)
    before = sorted(p.name for p in target.iterdir())
    with pytest.raises(RuntimeError, match="disk full"), atomic_directory(target) as tmp:
        (tmp / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("disk full")
    assert sorted(p.name for p in target.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temporary left behind
    AutoModelForCausalLM.from_pretrained(target)


def test_sigkill_during_save_never_leaves_a_half_checkpoint(tmp_path, tiny_checkpoint):
    """Kill a process at many points while it re-saves a checkpoint: the target always loads."""
    target = tmp_path / "ckpt"
    code = textwrap.dedent(
        f"""
        import sys
        from transformers import AutoModelForCausalLM
        import gpt_from_scratch
        from gpt_from_scratch.checkpoint import save_checkpoint
        model = AutoModelForCausalLM.from_pretrained({str(tiny_checkpoint)!r})
        tokenizer = gpt_from_scratch.build_gpt2_tokenizer()
        save_checkpoint(model, {str(target)!r}, tokenizer=tokenizer)
        print("ready", flush=True)
        while True:
            save_checkpoint(model, {str(target)!r}, tokenizer=tokenizer)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for delay in (0.03, 0.1, 0.25):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=tmp_path)
        assert proc.stdout.readline().strip() == b"ready"
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.wait()
        AutoModelForCausalLM.from_pretrained(target)


def test_saved_checkpoints_are_readable_by_others(tmp_path, tiny_model):
    umask = os.umask(0o022)
    try:
        path = save_checkpoint(tiny_model, tmp_path / "ckpt")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o755
    assert (path / "model.safetensors").stat().st_mode & 0o777 == 0o644
