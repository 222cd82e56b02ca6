"""Training with the transformers ``Trainer``: packed text data, pretraining or fine-tuning, crash-safe checkpoints.

The pieces, each usable on its own:

- :func:`tokenize_and_pack` turns a text dataset into ``input_ids``/``labels`` blocks (tiktoken's GPT-2
  encoding in a batched, parallel ``datasets.map``; documents joined with ``<|endoftext|>``).
- :func:`build_model` starts from a preset or config file (``init_scheme="gpt2"``) or loads a checkpoint to
  fine-tune, optionally wrapped with PEFT LoRA on the book's ``W_query``/``W_value``.
- :class:`GPTTrainer` is the ``Trainer`` with checkpoints that appear only once complete, weight decay that
  skips the book's LayerNorm, and ``eval_perplexity`` next to ``eval_loss``.
- :func:`latest_complete_checkpoint` finds where to resume after a crash.
- :func:`run_training` runs all of it and saves the final model in ``output_dir``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import math
import os
import re
import shutil
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import datasets
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    HfArgumentParser,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
    default_data_collator,
    set_seed,
)
from transformers.trainer_pt_utils import get_parameter_names
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from .checkpoint import atomic_directory, save_checkpoint
from .configuration_gpt import PRESETS, GPTConfig
from .modeling_gpt import LayerNorm
from .tokenization import ENDOFTEXT_ID, build_gpt2_tokenizer, get_gpt2_encoding, load_tokenizer, save_tokenizer

logger = logging.getLogger(__name__)

# Aliases of `--resume-from-checkpoint` meaning "the newest complete checkpoint in --output-dir".
RESUME_LATEST = ("latest", "last", "true")
TRAINER_STATE_NAME = "trainer_state.json"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


@dataclass
class ModelArguments:
    """Which model to train: a new one (``--preset``/``--config``) or a checkpoint (``--model``)."""

    _argument_group_name = "model"

    preset: str | None = field(
        default=None,
        metadata={"help": "pretrain from scratch with this preset's shape", "choices": sorted(PRESETS)},
    )
    config: str | None = field(
        default=None,
        metadata={"help": "pretrain from scratch with the shape in this JSON file (the book's keys, e.g. emb_dim)"},
    )
    model: str | None = field(
        default=None,
        metadata={"help": "fine-tune this checkpoint: a local directory or a Hub model id"},
    )
    init_scheme: Literal["book", "gpt2"] | None = field(
        default=None,
        metadata={
            "help": "initialisation of a new model: gpt2 (normal(0, 0.02), scaled residual projections) or book "
            "(PyTorch's defaults); default: the config file's, else gpt2"
        },
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "attention kernel: sdpa (default), eager, flash_attention_2, ..."}
    )
    lora_r: int = field(default=0, metadata={"help": "rank of PEFT LoRA adapters; 0 trains all weights"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / r)"})
    lora_dropout: float = field(default=0.0, metadata={"help": "dropout on the LoRA branch"})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["W_query", "W_value"],
        metadata={"help": "module names that get LoRA adapters (the book's attention projections)"},
    )


@dataclass
class DataArguments:
    """How text becomes training blocks (the dataset itself comes from the ``--dataset`` flags of ``data.py``)."""

    _argument_group_name = "data preparation"

    validation_split: str | None = field(
        default=None,
        metadata={"help": "evaluate on this split of --dataset (e.g. validation) instead of holding documents out"},
    )
    validation_fraction: float = field(
        default=0.05,
        metadata={"help": "fraction of the documents held out for evaluation when --validation-split is not given"},
    )
    block_size: int | None = field(
        default=None, metadata={"help": "tokens per training block (default: the model's context_length)"}
    )
    num_proc: int | None = field(default=None, metadata={"help": "processes that tokenise in parallel"})


@dataclass
class TrainingRun:
    """What :func:`run_training` did: where the model is, and the train and eval metrics."""

    output_dir: Path
    train_metrics: dict[str, float]
    eval_metrics: dict[str, float]


# --------------------------------------------------------------------------------------------------
# Command-line arguments


def add_dataclass_arguments(parser: argparse.ArgumentParser, dataclass_type: type) -> None:
    """Add one flag per field of ``dataclass_type``, exactly as ``HfArgumentParser`` spells them.

    ``gpt-from-scratch``'s subcommand parsers are plain ``argparse`` parsers; this gives them
    ``TrainingArguments``' flags (``--output-dir``/``--output_dir``, ``--max-steps``, ``--no-...``) with
    ``HfArgumentParser``'s own per-field logic.
    """
    group = parser.add_argument_group(getattr(dataclass_type, "_argument_group_name", dataclass_type.__name__))
    hints = typing.get_type_hints(dataclass_type)
    for dataclass_field in dataclasses.fields(dataclass_type):
        if not dataclass_field.init:
            continue
        # HfArgumentParser rewrites `field.type` in place; work on a copy so the class keeps its own.
        dataclass_field = _copy_field(dataclass_field)
        dataclass_field.type = hints[dataclass_field.name]
        HfArgumentParser._parse_dataclass_field(group, dataclass_field)


def _copy_field(source: dataclasses.Field) -> dataclasses.Field:
    copied = dataclasses.field(
        default=source.default, default_factory=source.default_factory, metadata=dict(source.metadata)
    )
    copied.name, copied.type = source.name, source.type
    return copied


def dataclass_from_args(dataclass_type: type, args: argparse.Namespace) -> Any:
    """Build ``dataclass_type`` from the values :func:`add_dataclass_arguments` parsed into ``args``."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(dataclass_type) if f.init}
    return dataclass_type(**values)


# --------------------------------------------------------------------------------------------------
# Data


def _tokenize_batch(batch: dict[str, list], text_column: str) -> dict[str, list[list[int]]]:
    encoding = get_gpt2_encoding()
    texts = batch[text_column]
    for text in texts:
        if text is not None and not isinstance(text, str):
            raise TypeError(f"--text-column {text_column!r} must hold strings, got {type(text).__name__}: {text!r}")
    # Plain text: a literal "<|endoftext|>" inside a document is text, not the separator.
    encoded = encoding.encode_ordinary_batch([text for text in texts if text])
    return {"input_ids": [ids + [ENDOFTEXT_ID] for ids in encoded]}


def _pack_batch(batch: dict[str, list], block_size: int) -> dict[str, list[list[int]]]:
    stream = list(itertools.chain.from_iterable(batch["input_ids"]))
    usable = len(stream) - len(stream) % block_size
    blocks = [stream[start : start + block_size] for start in range(0, usable, block_size)]
    # The model shifts labels itself, so the labels are the inputs.
    return {"input_ids": blocks, "labels": [list(block) for block in blocks]}


def tokenize_and_pack(
    dataset: datasets.Dataset,
    block_size: int,
    *,
    text_column: str = "text",
    num_proc: int | None = None,
) -> datasets.Dataset:
    """Tokenise ``dataset[text_column]`` with tiktoken's GPT-2 encoding and pack it into ``block_size`` blocks.

    Each non-empty row is one document, followed by ``<|endoftext|>``; documents are concatenated and cut
    into blocks of ``block_size`` tokens (a remainder shorter than a block is dropped every 1,000 documents,
    as in transformers' ``run_clm.py``). Tokenising runs in ``num_proc`` processes; packing runs in one, so
    the blocks do not depend on ``num_proc``.

    Returns:
        A dataset with ``input_ids`` and ``labels`` columns (equal: the model shifts the labels).

    Raises:
        ValueError: ``block_size`` is not positive, the text column is missing, or the text is shorter than a block.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size <= 0:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    if text_column not in dataset.column_names:
        raise ValueError(
            f"--text-column {text_column!r} is not a column of the dataset; columns: {dataset.column_names}"
        )
    tokenized = dataset.map(
        _tokenize_batch,
        batched=True,
        num_proc=num_proc,
        remove_columns=dataset.column_names,
        fn_kwargs={"text_column": text_column},
        desc="Tokenising (tiktoken gpt2)",
    )
    packed = tokenized.map(
        _pack_batch, batched=True, fn_kwargs={"block_size": block_size}, desc=f"Packing into {block_size}-token blocks"
    )
    if len(packed) == 0:
        tokens = sum(len(ids) for ids in tokenized["input_ids"])
        raise ValueError(
            f"the text has {tokens} tokens, fewer than one block of block_size={block_size}: "
            "use more text or a smaller --block-size"
        )
    return packed


def split_documents(
    dataset: datasets.Dataset, validation_fraction: float, seed: int
) -> tuple[datasets.Dataset, datasets.Dataset | None]:
    """Hold out a random ``validation_fraction`` of the documents (rows), before packing, so no block straddles."""
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must satisfy 0 <= validation_fraction < 1, got {validation_fraction}")
    if validation_fraction == 0.0:
        return dataset, None
    if len(dataset) < 2:
        raise ValueError(
            f"validation_fraction={validation_fraction} needs at least 2 documents, the dataset has {len(dataset)}; "
            "pass --validation-fraction 0 or --validation-split NAME"
        )
    split = dataset.train_test_split(test_size=validation_fraction, seed=seed)
    return split["train"], split["test"]


# --------------------------------------------------------------------------------------------------
# Model


def build_config(model_args: ModelArguments) -> GPTConfig:
    """The configuration of a new model from ``--preset`` or ``--config`` (``init_scheme`` defaults to gpt2)."""
    if (model_args.preset is None) == (model_args.config is None):
        raise ValueError(
            "pass one of --preset NAME or --config FILE to pretrain a new model, or --model DIR_OR_HUB_ID to fine-tune"
        )
    if model_args.preset is not None:
        return GPTConfig.from_preset(model_args.preset, init_scheme=model_args.init_scheme or "gpt2")
    path = Path(model_args.config)
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"--config {path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise TypeError(f"--config {path} must hold a JSON object of GPTConfig keys, got {type(values).__name__}")
    values["init_scheme"] = model_args.init_scheme or values.get("init_scheme", "gpt2")
    return GPTConfig.from_dict(values)


def build_model(model_args: ModelArguments, seed: int = 42) -> PreTrainedModel:
    """A new model (seeded with ``seed``) or a loaded checkpoint, wrapped with LoRA when ``lora_r > 0``."""
    kwargs = {} if model_args.attn_implementation is None else {"attn_implementation": model_args.attn_implementation}
    if model_args.model is not None:
        if model_args.preset is not None or model_args.config is not None:
            raise ValueError("--model fine-tunes an existing model; do not combine it with --preset or --config")
        model = AutoModelForCausalLM.from_pretrained(model_args.model, **kwargs)
    else:
        config = build_config(model_args)
        set_seed(seed)
        model = AutoModelForCausalLM.from_config(config, **kwargs)
    if model.config.vocab_size < ENDOFTEXT_ID + 1:
        raise ValueError(
            f"the model's vocab_size={model.config.vocab_size} is smaller than GPT-2's {ENDOFTEXT_ID + 1} tokens, "
            "which the training data uses"
        )
    if model_args.lora_r < 0:
        raise ValueError(f"--lora-r must be >= 0, got {model_args.lora_r}")
    if model_args.lora_r > 0:
        model = _add_lora(model, model_args)
    return model


def _add_lora(model: PreTrainedModel, model_args: ModelArguments) -> nn.Module:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ImportError("--lora-r needs PEFT: pip install 'gpt-from-scratch[peft]'") from None
    config = LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=list(model_args.lora_target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def training_tokenizer(model_args: ModelArguments, context_length: int) -> PreTrainedTokenizerBase:
    """The tokenizer saved with ``--model`` when it has one (it must be GPT-2's: the data is tokenised with
    tiktoken's GPT-2 encoding), else :func:`build_gpt2_tokenizer`."""
    if model_args.model is not None:
        try:
            tokenizer = load_tokenizer(model_args.model)
        except (OSError, ValueError):  # no tokenizer saved with it
            tokenizer = None
        if tokenizer is not None:
            probe = "GPT-2's byte pairs:\tünïcode, 3.14  spaces\n"
            if tokenizer.encode(probe, add_special_tokens=False) != get_gpt2_encoding().encode_ordinary(probe):
                raise ValueError(
                    f"--model {model_args.model} comes with a tokenizer that is not GPT-2's byte-pair encoding, "
                    "which this command tokenises the data with"
                )
            return tokenizer
    return build_gpt2_tokenizer(model_max_length=context_length)


# --------------------------------------------------------------------------------------------------
# Checkpoints


def is_complete_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a checkpoint the ``Trainer`` can resume from.

    The ``Trainer`` writes ``trainer_state.json`` last, so a directory with weights and a readable
    state file was not interrupted mid-save (``GPTTrainer`` also publishes checkpoints only once complete).
    """
    path = Path(path)
    state = path / TRAINER_STATE_NAME
    if not state.is_file():
        return False
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return any((path / name).is_file() for name in _WEIGHT_FILES) or any(path.glob("pytorch_model_fsdp_*"))


def latest_complete_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The ``checkpoint-N`` directory in ``output_dir`` with the largest N that is complete, or ``None``."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    steps = sorted(
        (int(match.group(1)), entry)
        for entry in output_dir.iterdir()
        if (match := _CHECKPOINT_RE.match(entry.name)) and entry.is_dir()
    )
    for _, entry in reversed(steps):
        if is_complete_checkpoint(entry):
            return entry
        logger.warning("skipping %s: incomplete checkpoint (interrupted while being written)", entry)
    return None


def resolve_resume_checkpoint(resume_from_checkpoint: str | None, output_dir: str | os.PathLike) -> str | None:
    """The checkpoint to resume from: ``None``, an explicit complete checkpoint, or for ``latest`` the newest
    complete one in ``output_dir`` (``None`` when there is none yet, so one command line both starts and resumes)."""
    if resume_from_checkpoint is None:
        return None
    if resume_from_checkpoint.lower() in RESUME_LATEST:
        latest = latest_complete_checkpoint(output_dir)
        if latest is None:
            logger.warning("no complete checkpoint in %s: training from the start", output_dir)
        return None if latest is None else str(latest)
    path = Path(resume_from_checkpoint)
    if not path.is_dir():
        raise FileNotFoundError(f"--resume-from-checkpoint {path}: no such directory")
    if not is_complete_checkpoint(path):
        latest = latest_complete_checkpoint(path.parent)
        hint = f"; the newest complete one is {latest}" if latest else ""
        raise ValueError(f"--resume-from-checkpoint {path} is an incomplete checkpoint (no {TRAINER_STATE_NAME}){hint}")
    return str(path)


class GPTTrainer(Trainer):
    """The ``Trainer``, with three changes for this model.

    - A checkpoint is written into a hidden staging directory and renamed to ``checkpoint-N`` only once every
      process has finished writing it: a kill mid-save never leaves a ``checkpoint-N`` that resuming picks up
      (the stock ``Trainer`` writes in place, and resuming from the newest folder then crashes).
    - Weight decay skips the book's ``LayerNorm`` (``scale``/``shift``) as it skips ``nn.LayerNorm``.
    - ``eval_perplexity`` (``exp(eval_loss)``) is logged with ``eval_loss``.
    """

    _checkpoint_staging_dir: str | None = None

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        names = set(super().get_decay_parameter_names(model))
        without_book_norms = set(get_parameter_names(model, [nn.LayerNorm, LayerNorm]))
        return sorted(names & without_book_norms)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        for key in [key for key in logs if key.endswith("_loss") and key.startswith("eval")]:
            loss = logs[key]
            logs[key[: -len("loss")] + "perplexity"] = math.exp(loss) if loss < 700 else math.inf
        super().log(logs, start_time)

    def _get_output_dir(self, trial: Any) -> str:
        return self._checkpoint_staging_dir or super()._get_output_dir(trial)

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        run_dir = super()._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        # Every process writes part of a checkpoint (its RNG state at least), so all must agree on the name.
        staging = os.path.join(run_dir, f".{name}.incomplete")
        if self.args.should_save:
            shutil.rmtree(staging, ignore_errors=True)  # left by a run killed while saving this step
        self.accelerator.wait_for_everyone()
        self._checkpoint_staging_dir = staging
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._checkpoint_staging_dir = None
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            self._publish_checkpoint(os.path.join(staging, name), os.path.join(run_dir, name), staging)
            shutil.rmtree(staging, ignore_errors=True)
            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=True,
            )
        self.accelerator.wait_for_everyone()

    def _publish_checkpoint(self, staged: str, target: str, staging: str) -> None:
        best = self.state.best_model_checkpoint
        if best is not None and Path(best).is_relative_to(staging):
            # The stock method recorded the best checkpoint under the staging path: point it at the real one.
            self.state.best_model_checkpoint = target
            if (Path(staged) / TRAINER_STATE_NAME).is_file():
                self.state.save_to_json(os.path.join(staged, TRAINER_STATE_NAME))
        with atomic_directory(target) as tmp:
            for entry in Path(staged).iterdir():
                os.replace(entry, tmp / entry.name)


def build_trainer(
    model: nn.Module,
    training_args: TrainingArguments,
    train_dataset: datasets.Dataset,
    eval_dataset: datasets.Dataset | None = None,
    tokenizer: PreTrainedTokenizerBase | None = None,
    **kwargs: Any,
) -> GPTTrainer:
    """A :class:`GPTTrainer` for packed blocks (``input_ids``/``labels``); ``kwargs`` go to the ``Trainer``."""
    if tokenizer is None:
        tokenizer = build_gpt2_tokenizer(model_max_length=_context_length(model))
    return GPTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=default_data_collator,
        processing_class=tokenizer,
        **kwargs,
    )


def _context_length(model: nn.Module) -> int:
    return int(model.config.max_position_embeddings)


def _keep_directory_entries(directory: Path) -> Callable[[Path], None]:
    """An ``extra`` for ``save_checkpoint`` that carries ``directory``'s other entries (checkpoints, metrics)
    over to the new directory as hard links, so replacing it atomically loses nothing."""

    def carry_over(tmp: Path) -> None:
        if not directory.is_dir():
            return
        for entry in directory.iterdir():
            destination = tmp / entry.name
            # Hidden entries are our staging leftovers; the new model's files win over the old ones.
            if entry.name.startswith(".") or destination.exists():
                continue
            if entry.is_dir():
                shutil.copytree(entry, destination, copy_function=_link_or_copy, symlinks=True)
            else:
                _link_or_copy(entry, destination)

    return carry_over


def _link_or_copy(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    try:
        os.link(source, destination)
    except OSError:  # e.g. a filesystem without hard links
        shutil.copy2(source, destination)


def save_final_model(trainer: Trainer, output_dir: str | os.PathLike, tokenizer: PreTrainedTokenizerBase) -> Path:
    """Save the trained model in ``output_dir`` for ``from_pretrained``/``pipeline``, atomically, keeping the
    checkpoints already there (call on every process: sharded engines gather the weights collectively)."""
    # Absolute, so that `--output-dir .` names a directory with a parent to stage the new one in.
    output_dir = Path(output_dir).resolve()
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        # The weights are sharded across processes: the Trainer gathers them (written in place, not atomically).
        trainer.save_model(str(output_dir))
        if trainer.args.should_save:
            save_tokenizer(tokenizer, output_dir)
    elif trainer.args.should_save:
        model = trainer.accelerator.unwrap_model(trainer.model, keep_torch_compile=False)
        save_checkpoint(model, output_dir, tokenizer=tokenizer, extra=_keep_directory_entries(output_dir))
    trainer.accelerator.wait_for_everyone()
    return output_dir


# --------------------------------------------------------------------------------------------------
# The whole run


def run_training(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    train_texts: datasets.Dataset,
    validation_texts: datasets.Dataset | None = None,
    *,
    text_column: str = "text",
) -> TrainingRun:
    """Pretrain or fine-tune on ``train_texts`` and save the model in ``training_args.output_dir``.

    Args:
        model_args: The model to start from (:func:`build_model`).
        data_args: Block size, validation hold-out and tokenising processes.
        training_args: Everything the ``Trainer`` takes; ``resume_from_checkpoint`` may be a checkpoint
            directory or ``latest`` (the newest complete checkpoint in ``output_dir``).
        train_texts: Documents, one per row, in ``text_column``.
        validation_texts: Documents to evaluate on; when ``None``, ``data_args.validation_fraction`` of
            ``train_texts`` is held out.

    Returns:
        Where the model was saved and the final train and eval metrics (eval loss and perplexity).
    """
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
    model = build_model(model_args, seed=training_args.seed)
    context_length = _context_length(model)
    block_size = data_args.block_size or context_length
    if block_size > context_length:
        raise ValueError(f"--block-size {block_size} exceeds the model's context_length={context_length}")
    tokenizer = training_tokenizer(model_args, context_length)

    if validation_texts is None:
        train_texts, validation_texts = split_documents(
            train_texts, data_args.validation_fraction, seed=training_args.seed
        )
    with training_args.main_process_first(desc="tokenising"):
        train_dataset = tokenize_and_pack(train_texts, block_size, text_column=text_column, num_proc=data_args.num_proc)
        eval_dataset = None
        if validation_texts is not None:
            eval_dataset = tokenize_and_pack(
                validation_texts, block_size, text_column=text_column, num_proc=data_args.num_proc
            )
    logger.info(
        "%d training blocks of %d tokens, %d validation blocks",
        len(train_dataset),
        block_size,
        0 if eval_dataset is None else len(eval_dataset),
    )

    trainer = build_trainer(model, training_args, train_dataset, eval_dataset, tokenizer)
    train_result = trainer.train(resume_from_checkpoint=resume)
    train_metrics = dict(train_result.metrics)
    eval_metrics = trainer.evaluate() if eval_dataset is not None else {}
    save_final_model(trainer, training_args.output_dir, tokenizer)
    trainer.log_metrics("train", train_metrics)
    trainer.save_metrics("train", train_metrics)
    if eval_metrics:
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
    return TrainingRun(Path(training_args.output_dir), train_metrics, eval_metrics)


__all__ = [
    "DataArguments",
    "GPTTrainer",
    "ModelArguments",
    "TrainingRun",
    "add_dataclass_arguments",
    "build_config",
    "build_model",
    "build_trainer",
    "dataclass_from_args",
    "is_complete_checkpoint",
    "latest_complete_checkpoint",
    "resolve_resume_checkpoint",
    "run_training",
    "save_final_model",
    "split_documents",
    "tokenize_and_pack",
    "training_tokenizer",
]
