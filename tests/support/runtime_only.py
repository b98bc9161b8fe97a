"""A process with only what requirements.txt installs: every other installed package made unimportable.

`dev_only_modules()` finds the top-level modules of the installed distributions that requirements.txt
does not pull in (pytest, playwright, ruff, umap-learn and their own dependencies), from the
environment's own metadata, so a package added to requirements-dev.txt is blocked without a list to
keep; `runtime_only_env()` is the environment that blocks them (through runtime_site/sitecustomize.py)
in a process and in the processes it starts.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent / "runtime_site"
ALWAYS_THERE = {"pip", "setuptools", "wheel"}  # in every Python environment, a Space's too


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_distributions(requirements: Path = REPO / "requirements.txt") -> set[str]:
    """The installed distributions that `requirements` needs: its lines and their dependencies, transitively."""
    lines = (line.split("#")[0].strip() for line in requirements.read_text().splitlines())
    todo = [_canonical(Requirement(line).name) for line in lines if line]
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:  # an optional dependency not installed here
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_canonical(requirement.name))
    return needed


def _top_level(dist: metadata.Distribution) -> set[str]:
    """The top-level import names a distribution installs (its files' first path parts)."""
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__", "bin"):
            continue
        if len(file.parts) > 1 or first.endswith(".py"):
            names.add(first.split(".")[0])
    return names


def dev_only_modules() -> list[str]:
    """Top-level modules installed here that no runtime distribution provides (their namespaces kept)."""
    needed = runtime_distributions() | ALWAYS_THERE
    runtime, other = set(), set()
    for dist in metadata.distributions():
        (runtime if _canonical(dist.metadata["Name"]) in needed else other).update(_top_level(dist))
    return sorted(other - runtime)


def runtime_only_env() -> dict[str, str]:
    """Environment variables under which Python cannot import the dev-only modules (children included)."""
    path = os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "MNIST_TEST_BLOCKED_MODULES": ",".join(dev_only_modules())}
