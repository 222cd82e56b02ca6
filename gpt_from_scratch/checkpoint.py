"""Writing checkpoint directories so that a crash never leaves a half-written one in place."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .tokenization import build_gpt2_tokenizer, save_tokenizer


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
