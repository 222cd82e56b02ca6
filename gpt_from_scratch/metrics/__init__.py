"""``evaluate`` modules shipped with the package, loadable offline with ``evaluate.load(metric_path(name))``."""

from __future__ import annotations

from pathlib import Path


def metric_path(name: str) -> str:
    """Directory of the packaged ``evaluate`` module ``name`` (e.g. ``"perplexity"``), for ``evaluate.load``."""
    path = Path(__file__).parent / name
    if not (path / f"{name}.py").is_file():
        available = sorted(p.name for p in Path(__file__).parent.iterdir() if (p / f"{p.name}.py").is_file())
        raise ValueError(f"no packaged evaluate module {name!r}; available: {available}")
    return str(path)
