"""attuned's build backend: setuptools, run in a temporary copy of the source tree.

setuptools builds in the directory it is given, and writes `attuned.egg-info` and `build/`
there (pip and pipx build in the source tree itself since pip 21.3). So a checkout the user
cannot write could not be installed (`pipx install .` of a root-owned tree: "could not
create 'attuned.egg-info': Permission denied"), and every build left files behind. PEP 517
says the source tree may be read-only; setuptools has no setting for where those go in a
PEP 517 build. So each hook that makes a wheel, an sdist or their metadata copies the tree
to a temporary directory, runs setuptools there, and removes the copy: nothing is written
into the source tree. Editable installs point at the tree and are built in it, as before.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from setuptools import build_meta as _setuptools  # type: ignore[import-untyped]

# Editable installs refer to the source tree, so they are setuptools' own.
build_editable = _setuptools.build_editable
get_requires_for_build_editable = _setuptools.get_requires_for_build_editable
prepare_metadata_for_build_editable = _setuptools.prepare_metadata_for_build_editable

# Not part of a build: what tools, test runs and earlier builds leave in a checkout.
_SKIP_TOP = {"build", "dist"}
_SKIP_ANY = {"__pycache__"}

T = TypeVar("T")


def _skipped(path: Path, top: bool) -> bool:
    name = path.name
    return (name.startswith(".") or name in _SKIP_ANY or name.endswith(".egg-info")
            or (top and name in _SKIP_TOP)
            or (path.is_dir() and (path / "pyvenv.cfg").exists()))  # a virtualenv


def _copy(src: Path, dst: Path, top: bool = True) -> None:
    """src's files into dst, links followed (the unit template is one), each copy writable
    by us whatever the original's mode, so setuptools can write beside them and the
    temporary directory can be removed."""
    dst.mkdir()
    for entry in sorted(src.iterdir()):
        if _skipped(entry, top):
            continue
        if entry.is_dir():
            _copy(entry, dst / entry.name, top=False)
        elif entry.is_file():
            shutil.copyfile(entry, dst / entry.name)
            mode = stat.S_IMODE(entry.stat().st_mode)
            os.chmod(dst / entry.name, mode | stat.S_IRUSR | stat.S_IWUSR)


@contextmanager
def _in_a_copy() -> Iterator[None]:
    source = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="attuned-build-") as tmp:
        copy = Path(tmp) / source.name
        _copy(source, copy)
        os.chdir(copy)
        try:
            yield
        finally:
            os.chdir(source)


def _run(hook: Callable[..., T], *args: Any) -> T:
    with _in_a_copy():
        return hook(*args)


def _abs(directory: str | None) -> str | None:
    # The frontend's paths may be relative to the source tree, which we leave.
    return None if directory is None else os.path.abspath(directory)


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return list(_run(_setuptools.get_requires_for_build_wheel, config_settings))


def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    return list(_run(_setuptools.get_requires_for_build_sdist, config_settings))


def prepare_metadata_for_build_wheel(metadata_directory: str,
                                     config_settings: dict[str, Any] | None = None) -> str:
    return str(_run(_setuptools.prepare_metadata_for_build_wheel, _abs(metadata_directory),
                    config_settings))


def build_wheel(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                metadata_directory: str | None = None) -> str:
    return str(_run(_setuptools.build_wheel, _abs(wheel_directory), config_settings,
                    _abs(metadata_directory)))


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    return str(_run(_setuptools.build_sdist, _abs(sdist_directory), config_settings))
