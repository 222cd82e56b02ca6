"""``gpt-from-scratch train``: pretrain or fine-tune with the transformers ``Trainer``.

Every ``TrainingArguments`` option is a flag spelled as ``HfArgumentParser`` spells it (``--output-dir``,
``--max-steps``, ``--use-cpu``, ``--resume-from-checkpoint``, ...), next to the data flags shared with
``perplexity`` and the model and data-preparation flags of :mod:`gpt_from_scratch.training`. The same
command runs under ``torchrun`` and ``accelerate launch``.
"""

from __future__ import annotations

import argparse

from transformers import TrainingArguments

from ..data import add_data_arguments, load_text_dataset, load_text_dataset_from_args
from ..training import (
    RESUME_LATEST,
    DataArguments,
    ModelArguments,
    add_dataclass_arguments,
    dataclass_from_args,
    run_training,
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.epilog = (
        "Pretrain: --preset tiny (or --config FILE); fine-tune: --model DIR_OR_HUB_ID. "
        f"--resume-from-checkpoint {RESUME_LATEST[0]} resumes from the newest complete checkpoint in --output-dir "
        "(or starts when there is none). Multi-process: torchrun --nproc_per_node N -m gpt_from_scratch train ..."
    )
    add_data_arguments(parser)
    add_dataclass_arguments(parser, ModelArguments)
    add_dataclass_arguments(parser, DataArguments)
    add_dataclass_arguments(parser, TrainingArguments)


def run(args: argparse.Namespace) -> int:
    model_args = dataclass_from_args(ModelArguments, args)
    data_args = dataclass_from_args(DataArguments, args)
    training_args = dataclass_from_args(TrainingArguments, args)
    train_texts = load_text_dataset_from_args(args)
    validation_texts = None
    if data_args.validation_split is not None:
        validation_texts = load_text_dataset(
            args.dataset,
            dataset_config=args.dataset_config,
            split=data_args.validation_split,
            data_files=args.data_files,
            text_column=args.text_column,
        )
    result = run_training(
        model_args, data_args, training_args, train_texts, validation_texts, text_column=args.text_column
    )
    if training_args.should_log:
        summary = f"saved the model to {result.output_dir}"
        if "eval_loss" in result.eval_metrics:
            summary += (
                f" (eval loss {result.eval_metrics['eval_loss']:.4f}, "
                f"perplexity {result.eval_metrics['eval_perplexity']:.2f})"
            )
        print(summary)
    return 0
