"""Sharing checkpoints on the Hugging Face Hub so that anyone loads them without this package.

An upload holds exactly: the safetensors weights, ``config.json`` (with ``auto_map``),
``generation_config.json``, the tokenizer files, the model's code (``configuration_gpt.py`` and
``modeling_gpt.py``, which ``trust_remote_code`` runs), a model card (``README.md``) and, when a run
wrote them, the perplexity results (:data:`EVAL_RESULTS_FILE`, keeping only :data:`PUBLIC_EVAL_KEYS`).
Nothing else in the checkpoint directory (optimizer states, Trainer files, ``book.py``...) is uploaded.

:func:`stage_upload` writes that file set to a folder; :func:`push_checkpoint` stages it in a temporary
folder and uploads it in one commit, or only lists it (``dry_run=True``).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import CommitInfo, EvalResult, HfApi, ModelCard, ModelCardData
from huggingface_hub.utils import validate_repo_id
from safetensors import safe_open
from transformers.dynamic_module_utils import get_relative_import_files

from .configuration_gpt import GPTConfig
from .data import LOCAL_BUILDERS
from .modeling_gpt import GPTBaseModel, GPTForCausalLM

# `gpt-from-scratch perplexity --output-json DIR/perplexity.json` writes it; the model card reads it.
# Keys read: perplexity, loss, tokens, bits_per_byte, dataset, dataset_config, split, max_length, stride.
EVAL_RESULTS_FILE = "perplexity.json"
# The keys of that file that are uploaded with it; the others (`model`, `data_files`, `_interpreter_path`,
# `_git_commit_hash`...) describe the machine it ran on.
PUBLIC_EVAL_KEYS = (
    "perplexity",
    "loss",
    "tokens",
    "bits_per_byte",
    "bytes",
    "word_perplexity",
    "words",
    "dataset",
    "dataset_config",
    "split",
    "text_column",
    "max_length",
    "stride",
    "per_document",
    "add_start_token",
    "dtype",
    "_timestamp",
    "_evaluate_version",
)

DEFAULT_LICENSE = "apache-2.0"
DEFAULT_TAGS = ("gpt-from-scratch", "llms-from-scratch", "custom_code")

# Classes a checkpoint may have been saved from that load as the causal LM (the book's `GPTModel` is one).
_CAUSAL_LM_ARCHITECTURES = {"GPTForCausalLM", "GPTModel"}
_CONFIG_FILES = ("config.json", "generation_config.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
)
_SAFE_WEIGHTS = "model.safetensors"
_SAFE_WEIGHTS_INDEX = "model.safetensors.index.json"

CARD_TEMPLATE = """\
---
{{ card_data }}
---

# {{ title }}

The GPT of Sebastian Raschka's *Build a Large Language Model (From Scratch)* (chapters 4-5) as a
`transformers` model: {{ n_layers }} transformer blocks, {{ n_heads }} attention heads, {{ emb_dim }}-dimensional
embeddings, a {{ context_length }}-token context, {{ parameters }} parameters, and GPT-2's tokenizer.
It was saved and uploaded with `gpt-from-scratch`; loading it needs only `torch` and `transformers`.

## Usage

```python
from transformers import pipeline

generator = pipeline(
    "text-generation",
    model="{{ repo_id }}",
    trust_remote_code=True,
    revision="COMMIT_SHA",  # the commit whose code you have read
)
print(generator("Every effort moves you", max_new_tokens=20, do_sample=False)[0]["generated_text"])
```

`AutoConfig`, `AutoModelForCausalLM` (and `AutoModel` for the hidden states) and `AutoTokenizer` load it
the same way with `trust_remote_code=True`.

**Security:** the model's code is in this repository (`configuration_gpt.py`, `modeling_gpt.py`) and
`trust_remote_code=True` runs it on your machine. Read it, then pin `revision` to that commit's hash:
with a branch name, a later push could change the code you run.

## Evaluation

{% if eval_rows -%}
| Dataset | Split | Perplexity | Loss (nats/token) | Bits per byte | Tokens | Window / stride |
|---|---|---|---|---|---|---|
{%- for row in eval_rows %}
| {{ row.dataset }} | {{ row.split }} | {{ row.perplexity }} | {{ row.loss }} | {{ row.bits_per_byte }} | {{ row.tokens }} | {{ row.window }} |
{%- endfor %}
{%- else -%}
No evaluation results were uploaded with this checkpoint.
{%- endif %}

## Training data

{% if datasets -%}
{% for name in datasets %}- {{ name }}
{% endfor %}
{%- else -%}
Not stated.
{%- endif %}
"""


@dataclass
class UploadPlan:
    """What an upload holds.

    Attributes:
        repo_id: The Hub repository.
        files: Path in the repository -> size in bytes, sorted by path.
        left_out: Files of the checkpoint directory that are not uploaded (relative paths).
        card: ``"generated"``, or ``"checkpoint"`` when the directory's own ``README.md`` is uploaded.
    """

    repo_id: str
    files: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    card: str = "generated"

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())


@dataclass
class PushResult:
    """The outcome of :func:`push_checkpoint`: the plan, and the commit (``None`` on a dry run)."""

    plan: UploadPlan
    commit: CommitInfo | None = None


def hub_code_files() -> list[Path]:
    """The source files that ``trust_remote_code`` runs: ``modeling_gpt.py`` and its relative imports."""
    modeling_file = Path(inspect.getfile(GPTForCausalLM))
    return [modeling_file, *(Path(path) for path in get_relative_import_files(modeling_file))]


def hub_auto_map() -> dict[str, str]:
    """``config.json``'s ``auto_map``: each Auto class -> ``module.Class`` in :func:`hub_code_files`."""
    return {
        auto_class: f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"
        for auto_class, cls in (
            ("AutoConfig", GPTConfig),
            ("AutoModel", GPTBaseModel),
            ("AutoModelForCausalLM", GPTForCausalLM),
        )
    }


def read_eval_results(checkpoint_dir: str | Path) -> dict[str, Any] | None:
    """The perplexity results in ``checkpoint_dir/``:data:`EVAL_RESULTS_FILE`, or ``None`` if there are none.

    Raises:
        ValueError: the file is not a JSON object with a finite, positive ``perplexity``.
    """
    path = Path(checkpoint_dir) / EVAL_RESULTS_FILE
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(results).__name__}")  # noqa: TRY004 (file contents)
    perplexity = results.get("perplexity")
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)) or not 0 < perplexity < math.inf:
        raise ValueError(f"{path}: 'perplexity' must be a finite positive number, got {perplexity!r}")
    if not isinstance(results.get("dataset"), str) or not results["dataset"]:
        raise ValueError(f"{path}: 'dataset' must name the evaluation dataset, got {results.get('dataset')!r}")
    return results


def _dataset_name(dataset: str) -> str:
    # The perplexity command takes a Hub id or one of datasets' local builders (which read local files).
    return f"local {dataset} files" if dataset in LOCAL_BUILDERS else dataset


def _eval_result(results: dict[str, Any], metric: str, value: float, name: str) -> EvalResult:
    return EvalResult(
        task_type="text-generation",
        task_name="Text Generation",
        dataset_type=results["dataset"],
        dataset_name=_dataset_name(results["dataset"]),
        dataset_config=results.get("dataset_config"),
        dataset_split=results.get("split"),
        metric_type=metric,
        metric_name=name,
        metric_value=value,
    )


def _format_number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _count_parameters(checkpoint_dir: Path, weight_files: Iterable[str]) -> int:
    # Shapes come from the safetensors headers: no tensor is read.
    total = 0
    for name in weight_files:
        if not name.endswith(".safetensors"):
            continue  # the shard index
        with safe_open(checkpoint_dir / name, framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not iterable)
                total += math.prod(handle.get_slice(key).get_shape())
    return total


def _format_parameters(count: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit} ({count:,})"
    return f"{count:,}"


def render_model_card(
    checkpoint_dir: str | Path,
    repo_id: str,
    *,
    license: str = DEFAULT_LICENSE,
    datasets: Sequence[str] = (),
    tags: Sequence[str] = (),
    base_model: str | None = None,
    language: str | Sequence[str] | None = None,
) -> ModelCard:
    """The model card (``README.md``) of a checkpoint directory, with Hub metadata.

    The metadata holds ``license``, ``library_name: transformers``, ``pipeline_tag: text-generation``,
    :data:`DEFAULT_TAGS` plus ``tags``, ``datasets`` (the training data), ``base_model`` and, when the
    checkpoint has :data:`EVAL_RESULTS_FILE`, the perplexity (and bits per byte) as ``model-index``.

    Args:
        checkpoint_dir: A directory written by ``save_pretrained`` / ``save_checkpoint``.
        repo_id: The Hub repository the card is for (shown in the usage example).
        license: A Hub license id (e.g. ``apache-2.0``; ``mit`` for OpenAI's GPT-2 weights).
        datasets: Hub ids of the training datasets.
        tags: Extra tags.
        base_model: Hub id of the model this one was fine-tuned from or converted from.
        language: Language code(s) of the training text.
    """
    checkpoint_dir = Path(checkpoint_dir)
    validate_repo_id(repo_id)
    config = GPTConfig.from_pretrained(checkpoint_dir)
    results = read_eval_results(checkpoint_dir)

    # `datasets` are the training data; the evaluation dataset goes in model-index only.
    datasets = list(dict.fromkeys(datasets))
    eval_results = None
    eval_rows = []
    if results is not None:
        eval_results = [_eval_result(results, "perplexity", float(results["perplexity"]), "Perplexity")]
        if isinstance(results.get("bits_per_byte"), (int, float)):
            eval_results.append(
                _eval_result(results, "bits_per_byte", float(results["bits_per_byte"]), "Bits per byte")
            )
        dataset = _dataset_name(results["dataset"])
        if results.get("dataset_config"):
            dataset = f"{dataset} ({results['dataset_config']})"
        eval_rows.append(
            {
                "dataset": dataset,
                "split": results.get("split") or "-",
                "perplexity": _format_number(float(results["perplexity"]), 3),
                "loss": _format_number(results.get("loss")),
                "bits_per_byte": _format_number(results.get("bits_per_byte")),
                "tokens": _format_number(results.get("tokens")),
                "window": f"{_format_number(results.get('max_length'))} / {_format_number(results.get('stride'))}",
            }
        )

    card_data = ModelCardData(
        license=license,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=list(dict.fromkeys([*DEFAULT_TAGS, *tags])),
        datasets=datasets or None,
        base_model=base_model,
        language=language,
        model_name=repo_id.rsplit("/", 1)[-1],
        eval_results=eval_results,
    )
    return ModelCard.from_template(
        card_data,
        template_str=CARD_TEMPLATE,
        title=repo_id.rsplit("/", 1)[-1],
        repo_id=repo_id,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        emb_dim=config.emb_dim,
        context_length=config.context_length,
        parameters=_format_parameters(_count_parameters(checkpoint_dir, _weight_files(checkpoint_dir))),
        eval_rows=eval_rows,
    )


def _weight_files(checkpoint_dir: Path) -> list[str]:
    index = checkpoint_dir / _SAFE_WEIGHTS_INDEX
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        missing = [name for name in shards if not (checkpoint_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{index} lists shards missing from {checkpoint_dir}: {', '.join(missing)}")
        return [_SAFE_WEIGHTS_INDEX, *shards]
    if (checkpoint_dir / _SAFE_WEIGHTS).is_file():
        return [_SAFE_WEIGHTS]
    if any(checkpoint_dir.glob("pytorch_model*.bin")):
        raise ValueError(
            f"{checkpoint_dir} holds pickled weights (pytorch_model*.bin) only; the Hub upload takes safetensors: "
            "load the model and save it again with save_pretrained"
        )
    raise FileNotFoundError(f"{checkpoint_dir} has no {_SAFE_WEIGHTS} or {_SAFE_WEIGHTS_INDEX}")


def _checked_checkpoint(checkpoint_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        raise NotADirectoryError(f"checkpoint directory {str(checkpoint_dir)!r} does not exist or is not a directory")
    config_path = checkpoint_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{checkpoint_dir} has no config.json: is it a save_pretrained directory?")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("model_type") != GPTConfig.model_type:
        raise ValueError(
            f"{config_path} has model_type={config.get('model_type')!r}, not {GPTConfig.model_type!r}: "
            "only this package's checkpoints can be pushed with its code"
        )
    architectures = set(config.get("architectures") or ["GPTForCausalLM"])
    if not architectures <= _CAUSAL_LM_ARCHITECTURES:
        raise ValueError(
            f"{checkpoint_dir} was saved from {sorted(architectures)}, which has no output head; "
            "push a GPTForCausalLM checkpoint (text generation needs out_head)"
        )
    if not (checkpoint_dir / "tokenizer_config.json").is_file():
        raise FileNotFoundError(
            f"{checkpoint_dir} has no tokenizer: save one beside the weights "
            "(gpt_from_scratch.tokenization.save_tokenizer; checkpoint.save_checkpoint does it)"
        )
    return checkpoint_dir, config


def _place(source: Path, target: Path, link: bool) -> None:
    if link:
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another filesystem, or no hard links there: copy instead
    shutil.copyfile(source, target)


def stage_upload(
    checkpoint_dir: str | Path,
    folder: str | Path,
    repo_id: str,
    *,
    link: bool = False,
    **card_options: Any,
) -> UploadPlan:
    """Write into ``folder`` exactly the files an upload of ``checkpoint_dir`` holds, and return the plan.

    The code files come from this package (the code it loads the checkpoint with), whatever copy the
    checkpoint directory holds; ``config.json`` gets :func:`hub_auto_map` and
    ``architectures: ["GPTForCausalLM"]`` (a checkpoint of the book's ``GPTModel`` is the same model).
    ``README.md`` is the checkpoint's own if it has one, else :func:`render_model_card`.

    Args:
        checkpoint_dir: A ``save_pretrained`` / ``save_checkpoint`` directory of a causal LM with its tokenizer.
        folder: Where to write the files (created; files of the same names are replaced).
        repo_id: The Hub repository, for the model card.
        link: Hard-link large files instead of copying them where the filesystem allows.
        **card_options: ``license``, ``datasets``, ``tags``, ``base_model``, ``language`` of
            :func:`render_model_card`.
    """
    validate_repo_id(repo_id)
    checkpoint_dir, config = _checked_checkpoint(checkpoint_dir)
    folder = Path(folder)
    if folder.resolve() == checkpoint_dir.resolve():
        raise ValueError(f"folder={str(folder)!r} is the checkpoint directory itself; stage into another folder")
    folder.mkdir(parents=True, exist_ok=True)

    copied = [*_weight_files(checkpoint_dir), "generation_config.json"]
    copied += [name for name in _TOKENIZER_FILES if (checkpoint_dir / name).is_file()]
    for name in copied:
        source = checkpoint_dir / name
        if not source.is_file():
            raise FileNotFoundError(f"{checkpoint_dir} has no {name}: save the model with save_pretrained")
        _place(source, folder / name, link)

    config["auto_map"] = hub_auto_map()
    config["architectures"] = ["GPTForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    code = hub_code_files()
    for source in code:
        shutil.copyfile(source, folder / source.name)
    written = ["config.json", "README.md", *(path.name for path in code)]
    results = read_eval_results(checkpoint_dir)
    if results is not None:
        public = {key: results[key] for key in PUBLIC_EVAL_KEYS if key in results}
        (folder / EVAL_RESULTS_FILE).write_text(json.dumps(public, indent=2) + "\n", encoding="utf-8")
        written.append(EVAL_RESULTS_FILE)

    readme = checkpoint_dir / "README.md"
    card = "checkpoint" if readme.is_file() else "generated"
    if card == "checkpoint":
        shutil.copyfile(readme, folder / "README.md")
    else:
        render_model_card(checkpoint_dir, repo_id, **card_options).save(folder / "README.md")

    uploaded = {*copied, *written}
    left_out = sorted(
        str(path.relative_to(checkpoint_dir))
        for path in checkpoint_dir.rglob("*")
        if path.is_file() and str(path.relative_to(checkpoint_dir)) not in uploaded
    )
    files = {name: (folder / name).stat().st_size for name in sorted(uploaded)}
    return UploadPlan(repo_id=repo_id, files=files, left_out=left_out, card=card)


def push_checkpoint(
    checkpoint_dir: str | Path,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | bool | None = None,
    dry_run: bool = False,
    api: HfApi | None = None,
    **card_options: Any,
) -> PushResult:
    """Upload a checkpoint directory to the Hub in one commit (see :func:`stage_upload` for the files).

    Args:
        checkpoint_dir: A ``save_checkpoint`` directory.
        repo_id: ``namespace/name`` of the model repository; created if missing.
        private: Make a newly created repository private (an existing one keeps its visibility).
        revision: Branch to commit to (created from ``main`` if missing); default ``main``.
        commit_message: Defaults to ``"Upload <name> with gpt-from-scratch"``.
        token: Hub token; default: ``HF_TOKEN`` or the one saved by ``hf auth login``.
        dry_run: Only stage the files and return the plan; nothing is sent.
        api: The ``HfApi`` to use (its endpoint is ``HF_ENDPOINT``'s).
        **card_options: See :func:`render_model_card`.
    """
    checkpoint_dir = Path(checkpoint_dir)
    parent = checkpoint_dir.resolve().parent
    # Staging beside the checkpoint lets the weights be hard links rather than copies.
    staging_root = parent if os.access(parent, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix=f".{checkpoint_dir.name}.push-", dir=staging_root) as staging:
        plan = stage_upload(checkpoint_dir, staging, repo_id, link=True, **card_options)
        if dry_run:
            return PushResult(plan=plan)
        api = api or HfApi()
        repo_id = api.create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
        if revision is not None and revision != "main":
            api.create_branch(repo_id, branch=revision, token=token, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=staging,
            revision=revision,
            commit_message=commit_message or f"Upload {repo_id.rsplit('/', 1)[-1]} with gpt-from-scratch",
            token=token,
        )
    return PushResult(plan=plan, commit=commit)


__all__ = [
    "CARD_TEMPLATE",
    "DEFAULT_LICENSE",
    "DEFAULT_TAGS",
    "EVAL_RESULTS_FILE",
    "PUBLIC_EVAL_KEYS",
    "PushResult",
    "UploadPlan",
    "hub_auto_map",
    "hub_code_files",
    "push_checkpoint",
    "read_eval_results",
    "render_model_card",
    "stage_upload",
]
