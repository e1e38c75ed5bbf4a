"""The lock files: every installed package pinned with hashes, and every entry point uses them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(lock: str) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    entries = (ROOT / "requirements" / lock).read_text().split("\n")
    for index, line in enumerate(entries):
        if match := _PIN.match(line):
            following = entries[index + 1] if index + 1 < len(entries) else ""
            assert "--hash=sha256:" in line + following, f"{lock}: {line} has no hash"
            pins.setdefault(match[1].lower(), set()).add(match[2])
    return pins


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


@pytest.mark.parametrize("lock", ["runtime.txt", "dev.txt"])
def test_every_declared_dependency_is_pinned(lock: str) -> None:
    project = _project()
    declared = list(project["dependencies"])
    if lock == "dev.txt":
        extras = project["optional-dependencies"]
        declared += extras["dev"] + extras["bench"]
    pins = _pins(lock)
    missing = [req for req in declared if _name(req) not in pins]
    assert not missing, f"{lock} lacks {missing}: run tools/lock.sh"


def test_runtime_versions_are_the_tested_ones() -> None:
    runtime, dev = _pins("runtime.txt"), _pins("dev.txt")
    differing = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert not differing


def test_test_only_packages_stay_out_of_the_runtime_set() -> None:
    runtime = {_name(req) for req in _project()["dependencies"]}
    assert not runtime & {"httpx", "pytest", "hypothesis", "playwright", "mypy", "ruff"}


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("run.sh", "tools/install.sh runtime"),
        ("test.sh", "tools/install.sh dev"),
        ("tools/install.sh", "--require-hashes --no-deps -r"),
        ("Dockerfile", "--require-hashes --no-deps -r requirements/runtime.txt"),
    ],
)
def test_installs_come_from_the_locks(path: str, needle: str) -> None:
    text = (ROOT / path).read_text()
    assert needle in text
    assert "pip install --quiet -e" not in text
