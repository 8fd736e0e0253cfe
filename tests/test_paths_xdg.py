"""attuned's own XDG base directories on Linux give what platformdirs gives, for the
environments people have: XDG variables set, set to relative paths (ignored, as the
spec says), unset, and HOME set, relative or unset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from attuned import paths

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the XDG directories are computed on Linux only")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"XDG_CONFIG_HOME": "/x/conf", "XDG_STATE_HOME": "/x/state"},
        {"XDG_CONFIG_HOME": "relative/conf", "XDG_STATE_HOME": "relative/state"},
        {"XDG_CONFIG_HOME": "", "XDG_STATE_HOME": ""},
        {"HOME": "/home/someone"},
        {"HOME": "/home/someone/"},
        {"HOME": "relative-home"},
        {"HOME": None},
        {"HOME": "/home/someone", "XDG_CONFIG_HOME": "/x/conf/"},
    ],
    ids=["unset", "absolute", "relative", "empty", "home", "home-slash", "relative-home",
         "no-home", "home-and-xdg"],
)
def test_the_config_and_state_folders_are_platformdirs_own(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]) -> None:
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("ATTUNED_STATE_DIR", raising=False)
    assert paths.config_dir() == Path(platformdirs.user_config_dir("attuned"))
    assert paths.state_dir() == Path(platformdirs.user_state_dir("attuned"))


def test_finding_the_folders_does_not_import_platformdirs() -> None:
    # What attuned adds: a site .pth of the machine's may import tempfile before it runs.
    code = ("import sys; before = set(sys.modules); from attuned import paths; "
            "paths.config_path(); paths.history_db(); new = set(sys.modules) - before; "
            "print('platformdirs' in new, 'tempfile' in new)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.split() == ["False", "False"]
