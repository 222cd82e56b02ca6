"""Bad input gets an error that names the argument, the value and the limit."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from gpt_from_scratch import GPTForCausalLM, cli


@pytest.mark.parametrize(
    "ids, error, message",
    [
        (torch.tensor([[1, 50257]]), ValueError, r"token id 50257, outside 0..50256 \(vocab_size\)"),
        (torch.tensor([[-1, 2]]), ValueError, r"token id -1, outside 0..50256"),
        (torch.tensor([[1.0, 2.0]]), TypeError, "input_ids must hold integer token ids, got dtype torch.float32"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "input_ids is empty"),
        (torch.tensor([1, 2, 3]), ValueError, r"input_ids must have shape \(batch, tokens\), got \(3,\)"),
        (torch.ones(1, 65, dtype=torch.long), ValueError, r"65 positions \(0 cached \+ 65 new\) exceed context_length=64"),
    ],
)
def test_bad_input_ids(tiny_model, ids, error, message):
    with pytest.raises(error, match=message):
        tiny_model(input_ids=ids)


def test_bad_attention_mask_and_labels(tiny_model):
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\) but the inputs need \(2, 5\)"):
        tiny_model(input_ids=ids, attention_mask=torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels has shape \(2, 6\) but the inputs have \(2, 5\)"):
        tiny_model(input_ids=ids, labels=torch.ones(2, 6, dtype=torch.long))


def test_non_finite_inputs_embeds(tiny_model):
    embeds = torch.zeros(1, 3, tiny_model.config.emb_dim)
    embeds[0, 1, 0] = float("nan")
    with pytest.raises(ValueError, match="inputs_embeds contains NaN or inf"):
        tiny_model(inputs_embeds=embeds)
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        tiny_model(input_ids=torch.ones(1, 3, dtype=torch.long), inputs_embeds=torch.zeros(1, 3, tiny_model.config.emb_dim))


def test_config_with_a_foreign_model_type_is_refused(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="model_type='gpt2', expected 'gpt_from_scratch'.*convert"):
        GPTForCausalLM.from_pretrained(tmp_path)


def test_config_that_is_not_json(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(OSError, match="not a valid JSON file"):
        AutoModelForCausalLM.from_pretrained(tmp_path)


def test_cli_misuse_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "invalid choice: 'no-such-command'" in err and "--help" in err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--max-new-tokens", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_checkpoint_whose_config_and_weights_disagree(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "emb_dim": 64}))
    with pytest.raises(ValueError, match=r"weights do not fit config.json: .*\.\w+ has shape \(\d+(, \d+)?\) in the checkpoint but the config needs"):
        AutoModelForCausalLM.from_pretrained(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_truncated_or_corrupt_safetensors(tmp_path, tiny_model, damage):
    tiny_model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" * 8)
    with pytest.raises(ValueError, match="model.safetensors|safetensors weights file is truncated or corrupt"):
        AutoModelForCausalLM.from_pretrained(tmp_path)


def test_missing_tokenizer_files(tmp_path, tiny_model):
    from gpt_from_scratch.tokenization import load_tokenizer

    tiny_model.save_pretrained(tmp_path)  # weights and config only
    with pytest.raises(FileNotFoundError, match="has no tokenizer files .*save_tokenizer"):
        load_tokenizer(tmp_path)


def test_endoftext_in_text_says_how_to_allow_it(encoding):
    with pytest.raises(ValueError, match="allowed_special"):
        encoding.encode("one<|endoftext|>two")


@pytest.mark.parametrize("command", [["generate", "{ckpt}", "hello"], ["perplexity", "--model", "{ckpt}", "--dataset", "text", "--data-files", "{text}", "--split", "train"]])
def test_commands_name_a_missing_tokenizer_and_the_fix(tmp_path, tiny_model, capsys, command):
    tiny_model.save_pretrained(tmp_path / "ckpt")  # weights and config only, no tokenizer
    (tmp_path / "text.txt").write_text("some text to score\n" * 20)
    argv = [part.format(ckpt=tmp_path / "ckpt", text=tmp_path / "text.txt") for part in command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "has no tokenizer files" in err and "save_tokenizer(g.build_gpt2_tokenizer()" in err
