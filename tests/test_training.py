"""The Trainer path against independent references: tiktoken itself, HfArgumentParser, a plain PyTorch loop."""

import json
import math

import datasets
import pytest
import torch
from transformers import HfArgumentParser, TrainingArguments
from transformers.loss.loss_utils import LOSS_MAPPING
from transformers.trainer_utils import get_last_checkpoint

from gpt_from_scratch import GPTConfig, GPTForCausalLM
from gpt_from_scratch.cli import build_parser
from gpt_from_scratch.tokenization import ENDOFTEXT_ID
from gpt_from_scratch.training import (
    DataArguments,
    ModelArguments,
    build_config,
    build_trainer,
    dataclass_from_args,
    latest_complete_checkpoint,
    resolve_resume_checkpoint,
    split_documents,
    tokenize_and_pack,
)

TINY = {"vocab_size": 50257, "context_length": 16, "emb_dim": 16, "n_heads": 2, "n_layers": 2, "drop_rate": 0.0}
DOCS = [
    "Return a new list containing all items from the iterable in ascending order.",
    "",
    "Open file and return a stream.  Raise OSError upon failure.",
    "Split the string at the first occurrence of sep, and return a 3-tuple.",
    "A literal <|endoftext|> inside a document is text.",
]


def random_blocks(rows: int, length: int, seed: int = 0, masked: bool = False) -> datasets.Dataset:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, TINY["vocab_size"], (rows, length), generator=generator)
    labels = ids.clone()
    if masked:
        # A different number of ignored targets in every row, so micro-batches hold different token counts.
        for row in range(rows):
            labels[row, : (row * 5) % (length - 2)] = -100
    return datasets.Dataset.from_dict({"input_ids": ids.tolist(), "labels": labels.tolist()})


def training_args(tmp_path, **overrides) -> TrainingArguments:
    values = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": 5,
        "per_device_train_batch_size": 4,
        "learning_rate": 1e-3,
        "weight_decay": 0.1,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "use_cpu": True,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "seed": 0,
    }
    return TrainingArguments(**{**values, **overrides})


class Recorder:
    """Wraps a Trainer's compute_loss to keep every batch it trains on and the loss it returns."""

    def __init__(self, trainer):
        self.batches, self.losses, self.num_items = [], [], []
        self._compute_loss = trainer.compute_loss
        trainer.compute_loss = self

    def __call__(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self.batches.append({key: value.clone() for key, value in inputs.items()})
        self.num_items.append(num_items_in_batch)
        loss = self._compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        self.losses.append(loss.detach().clone())
        return loss


def new_model(seed: int = 0, **overrides) -> GPTForCausalLM:
    torch.manual_seed(seed)
    return GPTForCausalLM(GPTConfig(**{**TINY, **overrides}))


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[key] - b[key]).abs().max().item() for key in a)


# --- data ---------------------------------------------------------------------------------------


def test_tokenize_and_pack_is_tiktoken_with_endoftext_between_documents(encoding):
    packed = tokenize_and_pack(datasets.Dataset.from_dict({"text": DOCS}), block_size=8)
    stream = [token for doc in DOCS if doc for token in encoding.encode_ordinary(doc) + [ENDOFTEXT_ID]]
    expected = [stream[i : i + 8] for i in range(0, len(stream) - len(stream) % 8, 8)]
    assert list(packed["input_ids"]) == expected
    assert list(packed["labels"]) == expected
    # The literal text is tokenised as text: the only separators are the ones we put between documents.
    assert sum(block.count(ENDOFTEXT_ID) for block in packed["input_ids"]) <= len([doc for doc in DOCS if doc])


def test_tokenize_and_pack_in_two_processes_gives_the_same_blocks():
    dataset = datasets.Dataset.from_dict({"text": DOCS * 4})
    one = tokenize_and_pack(dataset, block_size=8)
    two = tokenize_and_pack(dataset, block_size=8, num_proc=2)
    assert list(two["input_ids"]) == list(one["input_ids"])


def test_tokenize_and_pack_rejects_bad_input():
    dataset = datasets.Dataset.from_dict({"text": ["short"]})
    with pytest.raises(ValueError, match="fewer than one block of block_size=64"):
        tokenize_and_pack(dataset, block_size=64)
    with pytest.raises(ValueError, match="'body' is not a column"):
        tokenize_and_pack(dataset, block_size=2, text_column="body")
    with pytest.raises(ValueError, match="block_size must be a positive integer"):
        tokenize_and_pack(dataset, block_size=0)
    with pytest.raises(TypeError, match="must hold strings"):
        tokenize_and_pack(datasets.Dataset.from_dict({"text": [1, 2]}), block_size=2)


def test_split_documents_holds_out_whole_documents_reproducibly():
    dataset = datasets.Dataset.from_dict({"text": [f"document {i}" for i in range(20)]})
    train, validation = split_documents(dataset, 0.25, seed=3)
    assert len(validation) == 5 and len(train) == 15
    assert sorted(list(train["text"]) + list(validation["text"])) == sorted(dataset["text"])
    assert list(split_documents(dataset, 0.25, seed=3)[1]["text"]) == list(validation["text"])
    assert split_documents(dataset, 0.0, seed=3) == (dataset, None)
    with pytest.raises(ValueError, match="0 <= validation_fraction < 1"):
        split_documents(dataset, 1.0, seed=3)


# --- command line -------------------------------------------------------------------------------

TRAINER_FLAGS = [
    "--output-dir", "somewhere",
    "--max-steps", "3",
    "--use-cpu",
    "--per-device-train-batch-size", "2",
    "--gradient-accumulation-steps", "4",
    "--learning-rate", "4e-4",
    "--lr-scheduler-type", "cosine",
    "--eval-strategy", "steps",
    "--eval-steps", "10",
    "--save-total-limit", "2",
    "--resume-from-checkpoint", "latest",
    "--no-dataloader-pin-memory",
]  # fmt: skip


def test_train_flags_are_exactly_hf_argument_parsers():
    args = build_parser().parse_args(
        [
            "train",
            "--dataset",
            "text",
            "--data-files",
            "a.txt",
            "--preset",
            "tiny",
            "--block-size",
            "32",
            *TRAINER_FLAGS,
        ]
    )
    ours = dataclass_from_args(TrainingArguments, args)
    (reference,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
        TRAINER_FLAGS, look_for_args_file=False
    )
    assert ours.to_dict() == reference.to_dict()
    assert (ours.max_steps, ours.use_cpu, ours.per_device_train_batch_size, ours.gradient_accumulation_steps) == (
        3, True, 2, 4,
    )  # fmt: skip
    assert dataclass_from_args(ModelArguments, args).preset == "tiny"
    assert dataclass_from_args(DataArguments, args).block_size == 32
    assert (args.dataset, args.data_files) == ("text", ["a.txt"])


def test_build_config_from_preset_or_file(tmp_path):
    assert build_config(ModelArguments(preset="tiny")).init_scheme == "gpt2"
    assert build_config(ModelArguments(preset="tiny", init_scheme="book")).init_scheme == "book"
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY, "init_scheme": "book"}))
    config = build_config(ModelArguments(config=str(path)))
    assert (config.emb_dim, config.context_length, config.init_scheme) == (16, 16, "book")
    with pytest.raises(ValueError, match="one of --preset NAME or --config FILE"):
        build_config(ModelArguments())
    with pytest.raises(ValueError, match="not a known preset"):
        build_config(ModelArguments(preset="huge"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        build_config(ModelArguments(config=str(tmp_path / "missing.json")))


# --- exactness ----------------------------------------------------------------------------------


def test_trainer_losses_and_weights_equal_a_plain_pytorch_loop(tmp_path):
    model = new_model()
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    trainer = build_trainer(model, training_args(tmp_path), random_blocks(24, 16))
    recorder = Recorder(trainer)
    trainer.train()

    reference = new_model()
    reference.load_state_dict(initial)
    reference.train()
    # The usual GPT rule, independent of the Trainer's: decay matrices and embeddings, not biases or norms.
    named = list(reference.named_parameters())
    groups = [
        {"params": [p for _, p in named if p.ndim >= 2], "weight_decay": 0.1},
        {"params": [p for _, p in named if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    assert len(recorder.batches) == 5
    for batch, trainer_loss in zip(recorder.batches, recorder.losses):
        loss = reference(input_ids=batch["input_ids"], labels=batch["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        assert abs(loss.item() - trainer_loss.item()) <= 1e-5
    assert max_difference(model.state_dict(), reference.state_dict()) <= 1e-5
    assert max_difference(model.state_dict(), initial) > 1e-4  # it did train


def test_weight_decay_skips_the_books_layernorm(tmp_path):
    model = new_model()
    trainer = build_trainer(model, training_args(tmp_path), random_blocks(4, 16))
    decayed = set(trainer.get_decay_parameter_names(model))
    assert decayed == {name for name, parameter in model.named_parameters() if parameter.ndim >= 2}
    assert "trf_blocks.0.norm1.scale" not in decayed and "tok_emb.weight" in decayed


def test_gradient_accumulation_equals_one_larger_batch(tmp_path, monkeypatch):
    calls = []
    causal_lm_loss = LOSS_MAPPING["ForCausalLM"]

    def spy(*args, **kwargs):
        calls.append(kwargs.get("num_items_in_batch"))
        return causal_lm_loss(*args, **kwargs)

    monkeypatch.setitem(LOSS_MAPPING, "ForCausalLM", spy)
    data = random_blocks(16, 16, masked=True)
    runs = {}
    for name, batch, steps in (("accumulated", 2, 3), ("large", 6, 1)):
        model = new_model()
        args = training_args(
            tmp_path / name, max_steps=3, per_device_train_batch_size=batch, gradient_accumulation_steps=steps
        )
        trainer = build_trainer(model, args, data)
        recorder = Recorder(trainer)
        trainer.train()
        runs[name] = (model.state_dict(), recorder)

    accumulated, large = runs["accumulated"][1], runs["large"][1]
    # The Trainer counts the targets of all k micro-batches, and the model's loss divides by that count.
    first_step_targets = sum((batch["labels"][:, 1:] != -100).sum() for batch in accumulated.batches[:3])
    assert int(accumulated.num_items[0]) == int(first_step_targets) == int(large.num_items[0])
    assert calls and all(count is not None for count in calls)
    assert torch.equal(torch.cat([b["input_ids"] for b in accumulated.batches[:3]]), large.batches[0]["input_ids"])
    assert max_difference(runs["accumulated"][0], runs["large"][0]) <= 1e-5

    # The test can fail: averaging the micro-batch means instead would give a different loss.
    model = new_model()
    means = [model(input_ids=b["input_ids"], labels=b["labels"]).loss for b in accumulated.batches[:3]]
    whole = model(input_ids=large.batches[0]["input_ids"], labels=large.batches[0]["labels"]).loss
    assert abs(torch.stack(means).mean().item() - whole.item()) > 1e-3


def test_gradient_checkpointing_gives_the_same_gradients():
    batch = random_blocks(3, 16)
    input_ids = torch.tensor(batch["input_ids"])
    gradients = []
    for checkpointing in (False, True):
        model = new_model(drop_rate=0.1).train()  # dropout: the recomputation must replay the same masks
        if checkpointing:
            model.activation_checkpointing_enable()
        torch.manual_seed(7)
        model(input_ids=input_ids, labels=input_ids).loss.backward()
        gradients.append({name: parameter.grad for name, parameter in model.named_parameters()})
    assert model.is_activation_checkpointing
    assert max_difference(*gradients) <= 1e-6


def test_eval_loss_and_perplexity_are_logged(tmp_path):
    model = new_model()
    data = random_blocks(6, 16, seed=1)
    trainer = build_trainer(model, training_args(tmp_path, per_device_eval_batch_size=4), data, eval_dataset=data)
    metrics = trainer.evaluate()
    ids = torch.tensor(data["input_ids"])
    with torch.no_grad():
        expected = model(input_ids=ids, labels=ids).loss.item()
    assert metrics["eval_loss"] == pytest.approx(expected, abs=1e-5)
    assert metrics["eval_perplexity"] == pytest.approx(math.exp(metrics["eval_loss"]), rel=1e-9)
    assert trainer.state.log_history[-1]["eval_perplexity"] == metrics["eval_perplexity"]


# --- checkpoints --------------------------------------------------------------------------------


def make_checkpoint(path, state="{}", weights=True):
    path.mkdir(parents=True)
    if weights:
        (path / "model.safetensors").write_bytes(b"weights")
    if state is not None:
        (path / "trainer_state.json").write_text(state)


def test_resume_picks_the_newest_complete_checkpoint(tmp_path):
    make_checkpoint(tmp_path / "checkpoint-2")
    make_checkpoint(tmp_path / "checkpoint-10")
    make_checkpoint(tmp_path / "checkpoint-12", state=None)  # killed before the state was written
    make_checkpoint(tmp_path / "checkpoint-14", state='{"global_st')  # killed while writing the state
    make_checkpoint(tmp_path / "checkpoint-16", weights=False)
    (tmp_path / "checkpoint-20").write_text("not a directory")
    # The stock helper picks the newest folder, complete or not.
    assert get_last_checkpoint(str(tmp_path)).endswith("checkpoint-16")
    assert latest_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert resolve_resume_checkpoint("latest", tmp_path) == str(tmp_path / "checkpoint-10")
    assert resolve_resume_checkpoint(None, tmp_path) is None
    assert resolve_resume_checkpoint(str(tmp_path / "checkpoint-2"), tmp_path) == str(tmp_path / "checkpoint-2")
    with pytest.raises(ValueError, match="incomplete checkpoint.*newest complete one is .*checkpoint-10"):
        resolve_resume_checkpoint(str(tmp_path / "checkpoint-12"), tmp_path)
    with pytest.raises(FileNotFoundError):
        resolve_resume_checkpoint(str(tmp_path / "checkpoint-99"), tmp_path)
    assert resolve_resume_checkpoint("latest", tmp_path / "empty") is None
