"""Provenance of a run: code version, packages, machine, device."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

#: the suite itself first (its version: the one record of the code an installed package has)
PACKAGES = ("ssm-token-selection-checks", "torch", "numpy", "sympy", "hypothesis", "pytest", "pytest-xdist", "matplotlib")


def git_commit(root: Path) -> str | None:
    """The commit of the checkout at ``root``; ``None`` unless ``root`` is the top of a git work tree
    (an installed package in site-packages is not, even when the virtual environment lies inside
    some repository, whose commit would say nothing about the installed code)."""
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                             timeout=10)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != Path(root).resolve():
            return None
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+uncommitted-changes" if dirty.stdout.strip() else "")


def describe(root: Path, device: str) -> dict:
    import torch

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    gpu = torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else None
    return {
        "git_commit": git_commit(root),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "device": device,
        "gpu": gpu,
    }
