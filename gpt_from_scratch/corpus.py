"""A training corpus that every Python installation has: the standard library's own docstrings.

The text is gathered at run time with :func:`inspect.getdoc` from a fixed, sorted list of modules, one
document per module, so nothing written elsewhere ships with the package and no network is needed. The
held-out modules are fixed too, so the train/test split never mixes. The exact text follows the Python
version (docstrings change between releases); within one version it is always the same.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import warnings
from collections.abc import Sequence

import datasets

logger = logging.getLogger(__name__)

# Pure-Python or always-built modules with substantial documentation, sorted.
STDLIB_MODULES: tuple[str, ...] = (
    "abc",
    "argparse",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "concurrent.futures",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email",
    "enum",
    "fractions",
    "ftplib",
    "functools",
    "gettext",
    "glob",
    "gzip",
    "heapq",
    "hmac",
    "html",
    "http.client",
    "http.server",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "logging",
    "mailbox",
    "math",
    "multiprocessing",
    "operator",
    "optparse",
    "os",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "random",
    "re",
    "sched",
    "secrets",
    "selectors",
    "shlex",
    "shutil",
    "smtplib",
    "socket",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "tokenize",
    "traceback",
    "typing",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "wave",
    "weakref",
    "xml.dom.minidom",
    "zipfile",
)

# Never trained on: the text that perplexity is reported on.
HELD_OUT_MODULES: tuple[str, ...] = ("fractions", "heapq", "statistics", "textwrap")


def module_document(module_name: str) -> str:
    """The docstrings of one module: its own, then each public class, method and function defined in it
    (sorted by name), each after a line with its qualified name; empty if the module has none."""
    module = importlib.import_module(module_name)
    parts = [inspect.getdoc(module) or ""]
    with warnings.catch_warnings():
        # Reading deprecated attributes (typing.io, ...) warns; we only read their docstrings.
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in sorted(dir(module)):
            obj = getattr(module, name, None)
            if name.startswith("_") or not _defined_in(obj, module_name):
                continue
            parts.append(_entry(f"{module_name}.{name}", obj))
            if inspect.isclass(obj):
                for member_name, member in sorted(vars(obj).items()):
                    if not member_name.startswith("_") and callable(getattr(obj, member_name, None)):
                        parts.append(_entry(f"{module_name}.{name}.{member_name}", member))
    return "\n\n".join(part for part in parts if part)


def _defined_in(obj: object, module_name: str) -> bool:
    # A package's public objects live in its submodules (asyncio.events, ...): count those, not re-exports.
    owner = getattr(obj, "__module__", None)
    return isinstance(owner, str) and (owner == module_name or owner.startswith(module_name + "."))


def _entry(qualified_name: str, obj: object) -> str:
    doc = inspect.getdoc(obj)
    return f"{qualified_name}\n{doc}" if doc else ""


def stdlib_docstring_corpus(
    modules: Sequence[str] = STDLIB_MODULES, held_out: Sequence[str] = HELD_OUT_MODULES
) -> datasets.DatasetDict:
    """The docstrings of ``modules`` as a ``DatasetDict``: ``train`` and ``test`` (the ``held_out`` modules).

    Each row is one module: columns ``module`` and ``text``. Modules that this Python lacks are skipped
    with a warning.

    Raises:
        ValueError: a held-out module is not in ``modules``, or a split has no text (``python -OO``
            strips docstrings).
    """
    unknown = sorted(set(held_out) - set(modules))
    if unknown:
        raise ValueError(f"held_out modules {unknown} are not in modules")
    rows: dict[str, dict[str, list[str]]] = {"train": {"module": [], "text": []}, "test": {"module": [], "text": []}}
    for module_name in sorted(modules):
        try:
            text = module_document(module_name)
        except ImportError as error:
            logger.warning("skipping %s: %s", module_name, error)
            continue
        if text:
            split = rows["test" if module_name in held_out else "train"]
            split["module"].append(module_name)
            split["text"].append(text)
    for split, columns in rows.items():
        if not columns["text"]:
            raise ValueError(
                f"the {split} split has no docstrings: this Python strips them (python -OO / PYTHONOPTIMIZE=2)"
            )
    return datasets.DatasetDict({split: datasets.Dataset.from_dict(columns) for split, columns in rows.items()})


__all__ = ["HELD_OUT_MODULES", "STDLIB_MODULES", "module_document", "stdlib_docstring_corpus"]
