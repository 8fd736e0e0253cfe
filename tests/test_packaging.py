"""The wheel, built as pipx and pip build it: from a checkout the user cannot write.

A wheel carries what the installed program reads at run time: the example schedule, the
unit template, the desktop entry and icon, the practice library and the word lists.
(Found missing once: data in sub-directories needs the packages found, not listed.) The
build writes nothing into the checkout (setuptools alone writes attuned.egg-info and build/
there, so `pipx install` of a root-owned tree failed), warns of nothing, and the licence is
an SPDX expression.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Build:
    wheel: Path
    output: str
    before: dict[str, str]
    after: dict[str, str]


def checkout_copy(dst: Path) -> None:
    """What a fresh clone has: the tree without what tools and builds left in this one."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names
                if n.startswith(".") or n in ("__pycache__", "build", "dist")
                or n.endswith(".egg-info") or (Path(folder, n) / "pyvenv.cfg").exists()}
    shutil.copytree(ROOT, dst, symlinks=True, ignore=ignore)


def snapshot(tree: Path) -> dict[str, str]:
    """Every path under `tree` with its kind, mode, and contents or link target."""
    seen: dict[str, str] = {}
    for folder, dirs, files in os.walk(tree):
        for name in dirs + files:
            path = Path(folder, name)
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                seen[str(path.relative_to(tree))] = f"link {os.readlink(path)}"
            elif stat.S_ISDIR(st.st_mode):
                seen[str(path.relative_to(tree))] = f"dir {st.st_mode:o}"
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                seen[str(path.relative_to(tree))] = f"file {st.st_mode:o} {digest}"
    return seen


def set_writable(tree: Path, writable: bool) -> None:
    for folder, dirs, files in os.walk(tree):
        for name in [*dirs, *files, ""]:
            path = Path(folder, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR if writable
                       else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    top = tmp_path_factory.mktemp("packaging")
    checkout, out = top / "attuned", top / "wheels"
    checkout_copy(checkout)
    set_writable(checkout, False)  # as for a user who is not root; root writes anyway
    before = snapshot(checkout)
    try:
        # -v: the backend's own output, warnings included.
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out),
             str(checkout)],
            capture_output=True, text=True, timeout=300, cwd=top)
        after = snapshot(checkout)
    finally:
        set_writable(checkout, True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    [wheel] = out.glob("attuned-*.whl")
    yield Build(wheel, proc.stdout + proc.stderr, before, after)


def test_the_wheel_has_every_data_file(build: Build) -> None:
    names = set(zipfile.ZipFile(build.wheel).namelist())
    wanted = {"attuned/config.example.toml", "attuned/py.typed", "attuned/data/attuned.service",
              "attuned/data/feelings.txt", "attuned/data/needs.txt",
              "attuned/notify/dbus.py"}
    wanted |= {f"attuned/data/practices/{p.name}"
               for p in (ROOT / "attuned/data/practices").glob("*.toml")}
    # The face `attuned service install` puts in place: the desktop entry and the icon.
    wanted |= {"attuned/data/attuned.desktop", "attuned/data/icons/attuned.svg"}
    wanted |= {f"attuned/data/icons/attuned-{n}.png" for n in (16, 32, 48, 64, 128, 256)}
    assert wanted - names == set()
    # The unit template is the real file, not a dangling link.
    unit = zipfile.ZipFile(build.wheel).read("attuned/data/attuned.service").decode()
    assert "Type=notify" in unit


def test_building_writes_nothing_into_the_checkout(build: Build) -> None:
    added = sorted(set(build.after) - set(build.before))
    changed = sorted(p for p in build.before if build.after.get(p) != build.before[p])
    assert (added, changed) == ([], [])


def test_the_build_warns_of_nothing(build: Build) -> None:
    # setuptools warns of a licence table ("`project.license` as a TOML table is
    # deprecated"), of licence classifiers and of other old forms this way.
    assert "Warning:" not in build.output
    assert "deprecated" not in build.output.lower()


def test_the_licence_is_an_spdx_expression_with_its_file(build: Build) -> None:
    wheel = zipfile.ZipFile(build.wheel)
    info = build.wheel.name.split("-py3")[0] + ".dist-info"
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    licence = wheel.read(f"{info}/licenses/LICENSE").decode()
    assert licence == (ROOT / "LICENSE").read_text()
    assert "Copyright (c) 2026 the attuned authors" in licence
