"""Text data through ``datasets``: the data flags shared by ``train`` and ``perplexity``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import datasets

LOCAL_BUILDERS = ("text", "json", "csv", "parquet")


def add_data_arguments(parser: argparse.ArgumentParser, *, default_split: str = "train") -> None:
    """Add ``--dataset``, ``--dataset-config``, ``--split``, ``--data-files`` and ``--text-column``."""
    group = parser.add_argument_group("data (loaded with datasets.load_dataset)")
    group.add_argument(
        "--dataset",
        required=True,
        help="a Hub dataset id (e.g. wikitext) or a local builder: " + ", ".join(LOCAL_BUILDERS) + " (with --data-files)",
    )
    group.add_argument("--dataset-config", default=None, help="dataset configuration, e.g. wikitext-2-raw-v1")
    group.add_argument("--split", default=default_split, help=f"split to read (default: {default_split})")
    group.add_argument("--data-files", nargs="+", default=None, metavar="FILE", help="local files for --dataset text|json|csv|parquet")
    group.add_argument("--text-column", default="text", help="column holding the text (default: text)")


def load_text_dataset(
    dataset: str,
    *,
    dataset_config: str | None = None,
    split: str = "train",
    data_files: Sequence[str] | None = None,
    text_column: str = "text",
) -> datasets.Dataset:
    """Load one split with ``datasets.load_dataset`` and check that it has non-empty ``text_column``.

    Raises:
        ValueError: a local builder without ``data_files``, a missing text column, or an empty split.
    """
    if dataset in LOCAL_BUILDERS and not data_files:
        raise ValueError(f"--dataset {dataset} reads local files: pass them with --data-files FILE...")
    kwargs = {"data_files": list(data_files)} if data_files else {}
    try:
        ds = datasets.load_dataset(dataset, dataset_config, split=split, **kwargs)
    except datasets.exceptions.DatasetGenerationError as error:
        # e.g. an empty local file: no row to infer the columns from.
        raise ValueError(f"{dataset} ({split}) could not be read: {error.__cause__ or error}") from error
    if text_column not in ds.column_names:
        raise ValueError(
            f"--text-column {text_column!r} is not a column of {dataset} ({split}); columns: {ds.column_names}"
        )
    if len(ds) == 0:
        raise ValueError(f"{dataset} ({split}) has no rows")
    return ds


def load_text_dataset_from_args(args: argparse.Namespace) -> datasets.Dataset:
    """:func:`load_text_dataset` with the values of :func:`add_data_arguments`."""
    return load_text_dataset(
        args.dataset,
        dataset_config=args.dataset_config,
        split=args.split,
        data_files=args.data_files,
        text_column=args.text_column,
    )
