"""The ``train`` command end to end: SIGKILL mid-save and resume (bitwise), two processes under torchrun.

The runs fine-tune tiny checkpoints (``--model``), which carry their tokenizer, so the subprocesses start fast.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from transformers.trainer_utils import get_last_checkpoint

from gpt_from_scratch import GPTConfig, GPTForCausalLM
from gpt_from_scratch.checkpoint import save_checkpoint
from gpt_from_scratch.cli import main
from gpt_from_scratch.corpus import module_document
from gpt_from_scratch.training import is_complete_checkpoint

TINY = {"vocab_size": 50257, "context_length": 32, "emb_dim": 16, "n_heads": 2, "n_layers": 2}
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
# A run resumed here from a checkpoint written by a subprocess is bitwise identical only with the same kernels.
SAME_THREADS = {**ENV, "OMP_NUM_THREADS": str(torch.get_num_threads())}
ONE_THREAD_EACH = {**ENV, "OMP_NUM_THREADS": "1"}

# Runs the train command and SIGKILLs itself while checkpoint-KILL_AT_STEP is being written: after the
# weights and optimizer state, before the RNG and trainer state.
KILL_DURING_SAVE = """
import os, signal, sys
from gpt_from_scratch import training
from gpt_from_scratch.cli import main

kill_at_step = int(sys.argv[1])
save_rng_state = training.GPTTrainer._save_rng_state

def save_rng_state_or_die(self, output_dir):
    if self.state.global_step == kill_at_step:
        os.kill(os.getpid(), signal.SIGKILL)
    save_rng_state(self, output_dir)

training.GPTTrainer._save_rng_state = save_rng_state_or_die
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    data = tmp_path_factory.mktemp("corpus") / "docs.jsonl"
    with data.open("w") as handle:
        for module in ("glob", "json", "shlex", "string"):
            handle.write(json.dumps({"text": module_document(module)}) + "\n")
    return data


def tiny_start(path, gpt2_tokenizer, drop_rate):
    torch.manual_seed(0)
    save_checkpoint(GPTForCausalLM(GPTConfig(**TINY, drop_rate=drop_rate)), path, tokenizer=gpt2_tokenizer)
    return path


def train_flags(corpus, model, output_dir, *, max_steps=4, batch_size=2):
    return [
        "train",
        "--dataset", "json",
        "--data-files", str(corpus),
        "--model", str(model),
        "--validation-fraction", "0.25",
        "--output-dir", str(output_dir),
        "--max-steps", str(max_steps),
        "--save-steps", "2",
        "--per-device-train-batch-size", str(batch_size),
        "--learning-rate", "1e-3",
        "--weight-decay", "0.1",
        "--logging-steps", "1",
        "--use-cpu",
        "--seed", "0",
        "--disable-tqdm", "true",
    ]  # fmt: skip


def assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_sigkill_during_a_save_then_resume_gives_bitwise_identical_weights(corpus, tmp_path, gpt2_tokenizer):
    start = tiny_start(tmp_path / "start", gpt2_tokenizer, drop_rate=0.1)  # dropout: the RNG state must resume too
    uninterrupted = tmp_path / "uninterrupted"
    assert main(train_flags(corpus, start, uninterrupted)) == 0
    expected = load_file(uninterrupted / "model.safetensors")
    # The final model sits beside the checkpoints, which its atomic save kept.
    assert sorted(p.name for p in uninterrupted.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert AutoModelForCausalLM.from_pretrained(uninterrupted).num_parameters() > 0
    assert json.loads((uninterrupted / "eval_results.json").read_text())["eval_perplexity"] > 1

    killed = tmp_path / "killed"
    process = subprocess.run(
        [sys.executable, "-c", KILL_DURING_SAVE, "4", *train_flags(corpus, start, killed)],
        check=False, env=SAME_THREADS, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert process.returncode == -signal.SIGKILL, process.stderr[-3000:]
    # checkpoint-4 was half written: it never appeared under its name.
    assert sorted(p.name for p in killed.glob("checkpoint-*")) == ["checkpoint-2"]
    assert is_complete_checkpoint(killed / "checkpoint-2")
    half = killed / ".checkpoint-4.incomplete" / "checkpoint-4"
    assert (half / "model.safetensors").is_file() and not (half / "trainer_state.json").exists()

    # What the stock Trainer leaves after such a kill: the half checkpoint under its real name, which
    # transformers' get_last_checkpoint picks. Resuming with "latest" must skip it.
    shutil.copytree(half, killed / "checkpoint-4")
    assert get_last_checkpoint(str(killed)).endswith("checkpoint-4")
    explicit = tmp_path / "explicit"
    shutil.copytree(killed, explicit)

    assert main([*train_flags(corpus, start, killed), "--resume-from-checkpoint", "latest"]) == 0
    assert_bitwise_equal(load_file(killed / "model.safetensors"), expected)
    assert is_complete_checkpoint(killed / "checkpoint-4") and not (killed / ".checkpoint-4.incomplete").exists()

    resume_from = explicit / "checkpoint-2"
    assert main([*train_flags(corpus, start, explicit), "--resume-from-checkpoint", str(resume_from)]) == 0
    assert_bitwise_equal(load_file(explicit / "model.safetensors"), expected)


def test_resume_from_a_half_written_checkpoint_is_a_clear_error(corpus, tmp_path, capsys):
    half = tmp_path / "out" / "checkpoint-2"
    half.mkdir(parents=True)
    (half / "model.safetensors").write_bytes(b"")
    assert main([*train_flags(corpus, tmp_path / "none", tmp_path / "out"), "--resume-from-checkpoint", str(half)]) == 2
    assert "incomplete checkpoint" in capsys.readouterr().err


def test_two_processes_under_torchrun_equal_one_process_at_twice_the_batch(corpus, tmp_path, gpt2_tokenizer):
    start = tiny_start(tmp_path / "start", gpt2_tokenizer, drop_rate=0.0)
    two = tmp_path / "two"
    process = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "gpt_from_scratch", *train_flags(corpus, start, two, max_steps=2, batch_size=2)],
        check=False, env=ONE_THREAD_EACH, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    one = tmp_path / "one"
    assert main(train_flags(corpus, start, one, max_steps=2, batch_size=4)) == 0

    # Both processes wrote their RNG state into the one checkpoint before it was published.
    assert {p.name for p in (two / "checkpoint-2").glob("rng_state*")} == {"rng_state_0.pth", "rng_state_1.pth"}
    logs = [json.loads((run / "checkpoint-2" / "trainer_state.json").read_text())["log_history"] for run in (two, one)]
    assert [entry["loss"] for entry in logs[0]] == pytest.approx([entry["loss"] for entry in logs[1]], abs=1e-5)
    weights = [load_file(run / "model.safetensors") for run in (two, one)]
    for key in weights[1]:
        torch.testing.assert_close(weights[0][key], weights[1][key], atol=1e-5, rtol=1e-4)
    assert not torch.equal(weights[1]["tok_emb.weight"], load_file(start / "model.safetensors")["tok_emb.weight"])
