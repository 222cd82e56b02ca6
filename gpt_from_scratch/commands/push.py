"""``gpt-from-scratch push DIR REPO_ID``: upload a checkpoint, its code and a model card to the Hub.

The token comes from ``HF_TOKEN`` or ``hf auth login`` (never from the command line, where shell
history would keep it); ``HF_ENDPOINT`` picks another Hub-compatible server.
"""

from __future__ import annotations

import argparse

from ..hub import DEFAULT_LICENSE, DEFAULT_TAGS, EVAL_RESULTS_FILE, UploadPlan, push_checkpoint


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Upload a checkpoint directory to the Hugging Face Hub in one commit: safetensors weights, config (with "
        "auto_map), generation config, tokenizer, the model code (configuration_gpt.py, modeling_gpt.py) and a model "
        f"card, plus {EVAL_RESULTS_FILE} when a perplexity run wrote one. Anyone then loads it with "
        "AutoModelForCausalLM.from_pretrained(REPO_ID, trust_remote_code=True, revision=COMMIT) without this package."
    )
    parser.add_argument("checkpoint", metavar="DIR", help="checkpoint directory (from train / save_checkpoint)")
    parser.add_argument("repo_id", metavar="REPO_ID", help="Hub model repository, e.g. your-name/gpt-124m-verdict")
    parser.add_argument(
        "--private", action="store_true", help="create the repository private (an existing one keeps its visibility)"
    )
    parser.add_argument("--revision", default=None, help="branch to commit to, created if missing (default: main)")
    parser.add_argument(
        "--commit-message", default=None, help="commit message (default: 'Upload NAME with gpt-from-scratch')"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the files that would be uploaded and send nothing")
    card = parser.add_argument_group("model card (used when DIR has no README.md of its own)")
    card.add_argument(
        "--license",
        default=DEFAULT_LICENSE,
        help=f"Hub license id (default: {DEFAULT_LICENSE}; OpenAI's GPT-2 weights are mit)",
    )
    card.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        default=[],
        metavar="ID",
        help="Hub id of a training dataset (repeatable)",
    )
    card.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        metavar="TAG",
        help=f"extra tag (repeatable; always: {', '.join(DEFAULT_TAGS)})",
    )
    card.add_argument(
        "--base-model", default=None, metavar="ID", help="Hub id of the model this one was fine-tuned or converted from"
    )
    card.add_argument(
        "--language",
        action="append",
        default=None,
        metavar="CODE",
        help="language of the training text, e.g. en (repeatable)",
    )


def _format_bytes(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _print_plan(plan: UploadPlan, revision: str | None, dry_run: bool) -> None:
    verb = "would upload" if dry_run else "uploaded"
    size = _format_bytes(plan.total_bytes)
    print(f"{verb} {len(plan.files)} files ({size}) to {plan.repo_id} (revision {revision or 'main'}):")
    for name, size in plan.files.items():
        print(f"  {_format_bytes(size):>10}  {name}")
    print(f"model card: {'README.md of the checkpoint directory' if plan.card == 'checkpoint' else 'generated'}")
    if plan.left_out:
        print(f"not uploaded from the checkpoint directory: {', '.join(plan.left_out)}")


def run(args: argparse.Namespace) -> int:
    result = push_checkpoint(
        args.checkpoint,
        args.repo_id,
        private=args.private or None,
        revision=args.revision,
        commit_message=args.commit_message,
        dry_run=args.dry_run,
        license=args.license,
        datasets=args.datasets,
        tags=args.tags,
        base_model=args.base_model,
        language=args.language,
    )
    _print_plan(result.plan, args.revision, args.dry_run)
    if result.commit is not None:
        print(f"commit: {result.commit.commit_url}")
        print(
            f"load it with: AutoModelForCausalLM.from_pretrained({result.plan.repo_id!r}, trust_remote_code=True, "
            f"revision={result.commit.oid!r})"
        )
    return 0
