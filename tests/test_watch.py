"""The file watcher sees the ways people save: in place, by rename (vim), and a
symlinked file's target; a burst of events is one change; other files are ignored."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from attuned.daemon.filewatch import FileWatcher


async def _changes_after(
    path: Path, action: object, *, settle: float = 0.4, timeout: float = 5.0
) -> int:
    count = 0
    first = asyncio.Event()

    def on_change() -> None:
        nonlocal count
        count += 1
        first.set()

    watcher = FileWatcher(path, on_change, debounce=0.05)
    watcher.start()
    try:
        assert callable(action)
        action()
        try:
            await asyncio.wait_for(first.wait(), timeout=timeout)
        except TimeoutError:
            return 0
        await asyncio.sleep(settle)  # a second, spurious callback would arrive in here
        return count
    finally:
        watcher.stop()


def test_write_in_place(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text("a")
    assert asyncio.run(_changes_after(f, lambda: f.write_text("b"))) == 1


def test_save_by_rename_like_vim(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text("a")

    def save() -> None:
        tmp = tmp_path / ".config.toml.swp"
        tmp.write_text("b")
        os.rename(tmp, f)

    assert asyncio.run(_changes_after(f, save)) == 1


def test_burst_is_one_change(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text("a")

    def burst() -> None:
        for i in range(20):
            f.write_text(str(i))

    assert asyncio.run(_changes_after(f, burst)) == 1


def test_other_files_ignored(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text("a")
    assert asyncio.run(_changes_after(f, lambda: (tmp_path / "other").write_text("x"),
                                      settle=0.0, timeout=0.5)) == 0


def test_symlinked_file_target_is_watched(tmp_path: Path) -> None:
    real_dir = tmp_path / "dotfiles"
    real_dir.mkdir()
    real = real_dir / "attuned.toml"
    real.write_text("a")
    link_dir = tmp_path / "config"
    link_dir.mkdir()
    link = link_dir / "config.toml"
    link.symlink_to(real)
    assert asyncio.run(_changes_after(link, lambda: real.write_text("b"))) == 1
