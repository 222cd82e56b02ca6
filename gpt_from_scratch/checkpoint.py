"""Checkpoint directories: written so that a crash never leaves a half-written one in place, and loaded
(any causal LM with its tokenizer, local or from the Hub) with errors that name what is wrong."""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from .tokenization import build_gpt2_tokenizer, load_tokenizer, save_tokenizer

DTYPES = {"auto": "auto", "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``target``; on success it replaces ``target``.

    If the body raises (or the process dies), ``target`` keeps its previous contents and the temporary
    directory is removed (or, after a SIGKILL, left as a hidden ``.NAME.tmp-*`` folder that nothing loads).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        _fsync_tree(tmp)
        if not target.exists():
            os.replace(tmp, target)
        elif _exchange(tmp, target):
            shutil.rmtree(tmp, ignore_errors=True)  # `tmp` now holds the previous checkpoint
        else:
            # No atomic exchange on this platform: two renames. A kill between them leaves the previous
            # checkpoint complete under `.NAME.old-*/NAME`.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: kernel or filesystem without the flag
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _fsync_tree(root: Path) -> None:
    # mkdtemp makes the directory owner-only; a checkpoint should be as readable as any file the user
    # writes (serving engines often run as another user).
    umask = os.umask(0)
    os.umask(umask)
    root.chmod(0o777 & ~umask)
    for path in root.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def save_checkpoint(
    model: PreTrainedModel,
    save_directory: str | Path,
    tokenizer: PreTrainedTokenizerBase | None = None,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """``save_pretrained`` the model (safetensors, config, generation config) and its tokenizer, atomically.

    Args:
        model: The model to save.
        save_directory: The checkpoint directory; replaced only once everything is written.
        tokenizer: Tokenizer saved beside the weights; defaults to GPT-2's (:func:`build_gpt2_tokenizer`).
        extra: Called with the temporary directory to write more files before it is moved into place.
    """
    if tokenizer is None:
        tokenizer = build_gpt2_tokenizer(model_max_length=model.config.max_position_embeddings)
    with atomic_directory(save_directory) as tmp:
        model.save_pretrained(tmp)
        save_tokenizer(tokenizer, tmp)
        if extra is not None:
            extra(tmp)
    return Path(save_directory)


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA if available, else Apple's MPS, else the CPU; anything else as ``torch.device``."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_causal_lm(
    model_name_or_path: str,
    *,
    tokenizer_name_or_path: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    trust_remote_code: bool = False,
    revision: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load any causal LM and its tokenizer with the Auto classes, refusing models without a trained LM head.

    Importing :mod:`gpt_from_scratch` registers this project's model, so its checkpoints load here
    too. ``dtype="auto"`` keeps the checkpoint's dtype. ``revision`` (a branch, tag or commit of a Hub id)
    applies to the model's repository, and to its tokenizer unless ``tokenizer_name_or_path`` names another.

    Raises:
        FileNotFoundError: neither a local directory nor a reachable Hub id.
        ValueError: the checkpoint is not a causal LM, or lacks weights (e.g. a base model without its head).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is not one of {sorted(DTYPES)}")
    try:
        config = AutoConfig.from_pretrained(model_name_or_path, trust_remote_code=trust_remote_code, revision=revision)
    except OSError as error:
        raise FileNotFoundError(f"cannot load a model from {model_name_or_path!r}: {error}") from None
    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING and "AutoModelForCausalLM" not in (
        getattr(config, "auto_map", None) or {}
    ):
        raise ValueError(
            f"{model_name_or_path!r} is a {config.model_type!r} model, which has no causal language model class "
            "(AutoModelForCausalLM cannot load it)"
        )
    model, info = AutoModelForCausalLM.from_pretrained(
        model_name_or_path,
        config=config,
        dtype=DTYPES[dtype],
        trust_remote_code=trust_remote_code,
        revision=revision,
        output_loading_info=True,
    )
    if info["missing_keys"]:
        missing = sorted(info["missing_keys"])
        raise ValueError(
            f"{model_name_or_path!r} has no trained causal LM head: {type(model).__name__} would initialise "
            f"{len(missing)} weight(s) at random ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); "
            f"its checkpoint is a {', '.join(config.architectures or ['model of another kind'])}"
        )
    try:
        tokenizer = load_tokenizer(
            tokenizer_name_or_path or model_name_or_path,
            trust_remote_code=trust_remote_code,
            revision=None if tokenizer_name_or_path else revision,
        )
    except OSError as error:
        raise FileNotFoundError(
            f"cannot load a tokenizer from {tokenizer_name_or_path or model_name_or_path!r}: {error}"
        ) from None
    return model.to(resolve_device(device)).eval(), tokenizer


def add_loading_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of :func:`load_causal_lm`: ``--dtype``, ``--device``, ``--trust-remote-code``, ``--revision``."""
    group = parser.add_argument_group("model loading")
    group.add_argument("--dtype", default="auto", choices=list(DTYPES), help="weights dtype (default: the checkpoint's)")
    group.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps... (default: the best available)")
    group.add_argument("--trust-remote-code", action="store_true", help="allow models whose code lives on the Hub")
    group.add_argument(
        "--revision",
        help="for a Hub id: the branch, tag or commit hash to load (default: main); pin a commit to load what you read",
    )


def load_causal_lm_from_args(
    model_name_or_path: str, args: argparse.Namespace, tokenizer_name_or_path: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """:func:`load_causal_lm` with the values of :func:`add_loading_arguments`."""
    return load_causal_lm(
        model_name_or_path,
        tokenizer_name_or_path=tokenizer_name_or_path,
        dtype=args.dtype,
        device=args.device,
        trust_remote_code=args.trust_remote_code,
        revision=args.revision,
    )
