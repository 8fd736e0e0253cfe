"""Edits of the schedule made at the same time by separate attuned processes wait for each
other: none is lost, the file stays valid and keeps its comments, and a reader (the
daemon) only ever sees a whole file. Real processes on real files throughout."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from processes import end_process, read_line

from attuned.config import edit, read

BASE = """\
# My schedule. These notes must survive every edit.

[settings]
quiet_hours = "22:30-07:00"   # sleep

# Mornings: the paper can wait.
[[practice]]
id = "breakfast"      # short
title = "Breakfast presence"
message = "Paper down."
at = "07:30"
"""
COMMENTS = [line for line in BASE.splitlines() if "#" in line]

# Runs attuned's own CLI code in a loop, each command exactly as `attuned --config F ...`
# would (a new process per command costs ~0.3 s; 300 of them would take minutes).
WORKER = """\
import json, sys
from attuned.cli.root import cli
config, commands = sys.argv[1], json.loads(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for args in commands:
    cli.main(["--config", config, *args], prog_name="attuned", standalone_mode=False)
    sys.stdout.flush()
"""

# The daemon's reader (with its ReloadCache, as the daemon reads), reading as fast as it can.
READER = """\
import json, select, sys
from pathlib import Path
from attuned.config.reload_cache import ReloadCache
from attuned.errors import AttunedError
path = Path(sys.argv[1])
cache = ReloadCache()
reads, bad, counts = 0, [], []
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    try:
        counts.append(len(cache.load(path).practices))
    except AttunedError as e:
        bad.append(str(e))
    reads += 1
print(json.dumps({"reads": reads, "bad": bad[:3], "counts": counts}), flush=True)
"""

WAIT = 60.0  # per process, in all: generous for a loaded machine; they finish in seconds


def _add(pid: str) -> list[str]:
    return ["add", pid, "--title", f"Practice {pid}", "--message", "m", "--at", "09:00"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    path.write_text(BASE)
    return path


class Workers:
    """Worker processes started together: each is ready before any is told to go."""

    def __init__(self, config: Path, jobs: Sequence[Sequence[list[str]]]) -> None:
        self.procs = [
            subprocess.Popen([sys.executable, "-c", WORKER, str(config), json.dumps(job)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for job in jobs
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            assert read_line(proc.stdout.fileno(), WAIT) == "ready\n"

    def go(self) -> list[tuple[int, str, str]]:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        return [_finish(proc) for proc in self.procs]

    def close(self) -> None:
        for proc in self.procs:
            end_process(proc, signal.SIGKILL)


@pytest.fixture
def workers() -> Iterator[list[Workers]]:
    made: list[Workers] = []
    yield made
    for w in made:
        w.close()


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=WAIT)
    return proc.returncode, out, err


def _said(outputs: Sequence[str], word: str) -> list[str]:
    """The ids each `Added x: ...` (or Removed / Paused) line names, over all outputs."""
    return [line.split()[1].rstrip(":.") for out in outputs for line in out.splitlines()
            if line.startswith(word + " ")]


def _ids(config: Path) -> list[str]:
    return [p.id for p in read.load(config).practices]


# 300 adds by two processes at once, and by five: each add reads and validates the whole
# file, so the 300th add reads 300 practices (the file's size makes these the slow ones).
@pytest.mark.parametrize(("n", "total"), [(2, 300), (5, 300)])
def test_concurrent_adds_lose_nothing(config: Path, workers: list[Workers], n: int,
                                      total: int) -> None:
    jobs = [[_add(f"w{w}-{i}") for i in range(total // n)] for w in range(n)]
    workers.append(Workers(config, jobs))
    results = workers[0].go()
    added = _said([out for _, out, _ in results], "Added")
    in_file = _ids(config)  # and the file is valid
    assert [pid for pid in added if pid not in in_file] == []  # no "Added" was lost
    assert [(rc, err) for rc, _, err in results] == [(0, "")] * n  # and none was refused
    assert len(added) == total
    assert sorted(in_file) == sorted(["breakfast", *added])
    text = config.read_text()
    assert [line for line in text.splitlines() if "#" in line] == COMMENTS
    assert text.startswith(BASE)
    assert not edit.lock_path(config).exists()  # the last edit took its lock file along


def test_concurrent_cli_processes_lose_nothing(config: Path) -> None:
    # Separate `attuned add` programs, as two people (or scripts) would run them.
    procs: list[subprocess.Popen[str]] = []
    results: list[tuple[int, str, str]] = []
    try:
        for rnd in range(3):
            batch = [subprocess.Popen(
                [sys.executable, "-m", "attuned", "--config", str(config), *_add(f"p{rnd}-{i}")],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(5)]
            procs += batch
            results += [_finish(proc) for proc in batch]
    finally:
        for proc in procs:
            end_process(proc, signal.SIGKILL)
    added = _said([out for _, out, _ in results], "Added")
    in_file = _ids(config)
    assert [pid for pid in added if pid not in in_file] == []
    assert [(rc, err) for rc, _, err in results] == [(0, "")] * 15
    assert sorted(in_file) == sorted(
        ["breakfast", *(f"p{rnd}-{i}" for rnd in range(3) for i in range(5))])
    assert [line for line in config.read_text().splitlines() if "#" in line] == COMMENTS


def test_concurrent_add_remove_and_disable_all_land(config: Path,
                                                     workers: list[Workers]) -> None:
    with config.open("a") as f:
        for i in range(30):
            f.write(f'\n[[practice]]\nid = "old-{i}"\ntitle = "Old {i}"\nmessage = "m"\n'
                    'at = "10:00"\n')
    removed, paused = [f"old-{i}" for i in range(0, 30, 2)], [f"old-{i}" for i in range(1, 30, 2)]
    jobs = [[_add(f"new-{i}") for i in range(30)],
            [["remove", pid] for pid in removed],
            [["disable", pid] for pid in paused],
            [_add(f"more-{i}") for i in range(30)]]
    workers.append(Workers(config, jobs))
    results = workers[0].go()
    outs = [out for _, out, _ in results]
    sched = read.load(config)
    ids = [p.id for p in sched.practices]
    assert [pid for pid in _said(outs, "Added") if pid not in ids] == []
    assert [pid for pid in _said(outs, "Removed") if pid in ids] == []  # none came back
    assert [pid for pid in _said(outs, "Paused") if sched.get(pid).enabled] == []  # type: ignore[union-attr]
    assert [(rc, err) for rc, _, err in results] == [(0, "")] * 4
    assert sorted(ids) == sorted(["breakfast", *paused, *(f"new-{i}" for i in range(30)),
                                  *(f"more-{i}" for i in range(30))])
    assert [p.id for p in sched.practices if not p.enabled] == paused
    assert [line for line in config.read_text().splitlines() if "#" in line] == COMMENTS


def test_a_reader_during_a_burst_of_edits_always_reads_a_whole_file(
    config: Path, workers: list[Workers]
) -> None:
    reader = subprocess.Popen([sys.executable, "-c", READER, str(config)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert read_line(reader.stdout.fileno(), WAIT) == "ready\n"
        workers.append(Workers(config, [[_add(f"w{w}-{i}") for i in range(60)]
                                        for w in range(2)]))
        results = workers[0].go()
        reader.stdin.write("stop\n")
        reader.stdin.flush()
        rc, out, err = _finish(reader)
    finally:
        end_process(reader, signal.SIGKILL)
    assert (rc, err) == (0, "")
    seen = json.loads(out)
    assert seen["bad"] == []
    counts = seen["counts"]
    assert len(set(counts)) > 10, "the reader hardly read during the edits"
    # Each read saw every add made before it: the number of practices never goes down.
    assert [(a, b) for a, b in itertools.pairwise(counts) if b < a] == []
    assert [(code, e) for code, _, e in results] == [(0, "")] * 2
    assert counts[-1] == 121


# --------------------------------------------------------------------------- the lock

HOLDER = """\
import sys
from pathlib import Path
from attuned.config import edit

def change(old):
    print("holding", flush=True)
    sys.stdin.readline()  # holds the lock until told, or until killed
    return None, None

edit.update(Path(sys.argv[1]), change)
"""


def _hold(config: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(config)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert read_line(holder.stdout.fileno(), WAIT) == "holding\n"
    return holder


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "attuned", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=WAIT)


def test_an_edit_waits_for_the_lock_and_says_who_holds_it(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attuned.errors import AttunedError

    # What a holder killed earlier leaves: its lock file, with its (longer) pid in it.
    edit.lock_path(config).write_text("4194303\n")
    holder = _hold(config)
    try:
        monkeypatch.setattr(edit, "EDIT_LOCK_WAIT", 0.3)
        start = time.monotonic()
        with pytest.raises(edit.ScheduleBusy) as info:
            edit.add_practice(config, {"id": "x", "title": "X", "message": "m",
                                           "at": ["09:00"]})
        waited = time.monotonic() - start
        lock = edit.lock_path(config)
        assert str(info.value) == (
            f"another attuned command (pid {holder.pid}) is still changing {config}: it has "
            f"held the lock file {lock} for more than 0.3 seconds, so nothing was written; "
            "run the command again once it has finished")
        assert isinstance(info.value, AttunedError)
        assert 0.3 <= waited < 3
        assert config.read_text() == BASE
    finally:
        end_process(holder, signal.SIGKILL)


def test_a_killed_holder_leaves_the_lock_free_and_the_file_whole(config: Path) -> None:
    holder = _hold(config)
    lock = edit.lock_path(config)
    assert lock.exists()
    holder.kill()  # SIGKILL: no clean-up of any kind
    holder.wait(WAIT)
    end_process(holder)
    assert lock.exists()  # left behind, but no longer held by anyone
    start = time.monotonic()
    r = _cli(config, *_add("after"))
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    # It did not wait out EDIT_LOCK_WAIT (5 s); start-up alone takes a fraction of that.
    assert time.monotonic() - start < edit.EDIT_LOCK_WAIT
    assert r.stdout.startswith("Added after:")
    assert _ids(config) == ["breakfast", "after"]
    assert not lock.exists()


def test_the_daemons_watcher_takes_the_lock_file_for_no_save(config: Path) -> None:
    from test_watch import _changes_after

    lock = edit.lock_path(config)
    assert lock.parent == config.parent and lock.name == ".config.toml.lock"
    # An edit that changes nothing still makes, writes and removes the lock file.
    nothing = asyncio.run(_changes_after(config, lambda: edit.update(
        config, lambda old: (None, None)), settle=0.0, timeout=0.5))
    assert nothing == 0
    edited = asyncio.run(_changes_after(config, lambda: edit.set_enabled(
        config, "breakfast", False)))
    assert edited == 1


def test_a_symlinked_schedule_and_its_target_share_one_lock(config: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.toml"
    link.symlink_to(config)
    assert edit.lock_path(link) == edit.lock_path(config)


needs_mount_namespace = pytest.mark.skipif(
    subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0,
    reason="a read-only bind mount needs `unshare --mount` (root)")


@needs_mount_namespace
def test_a_read_only_directory_is_one_line_and_no_lock_file(config: Path) -> None:
    # A private mount namespace: the read-only mount vanishes with the process.
    d = str(config.parent)
    script = (f'mount --bind "{d}" "{d}" && mount -o remount,ro,bind "{d}" && '
              f'exec "{sys.executable}" -m attuned --config "{config}" disable breakfast')
    r = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                       text=True, timeout=WAIT)
    lock = config.parent / ".config.toml.lock"
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (
        f"attuned: cannot edit {config}: attuned cannot create its lock file {lock} there "
        "(Read-only file system); edit a schedule in a directory you can write to, so the "
        "file was left as it was\n")
    assert config.read_text() == BASE
    assert os.listdir(config.parent) == ["config.toml"]


# --------------------------------------------------------------------------- attuned edit

EDITOR = """#!{python}
import pathlib, subprocess, sys
draft = pathlib.Path(sys.argv[1])
{meanwhile}
draft.write_text(draft.read_text().replace('"07:30"', '"07:45"'))
"""


def _edit(config: Path, tmp_path: Path, meanwhile: str = "") -> tuple[int, str]:
    from click.testing import CliRunner

    from attuned.cli.root import cli

    script = tmp_path / "fake-editor"  # FAKE: stands in for the person typing in vim
    script.write_text(EDITOR.format(python=sys.executable, meanwhile=meanwhile))
    script.chmod(0o755)
    r = CliRunner(env={"EDITOR": str(script), "VISUAL": ""}).invoke(
        cli, ["--config", str(config), "edit"])
    return r.exit_code, r.output


def test_an_edit_saved_while_another_command_changed_the_file_is_refused_and_kept(
    config: Path, tmp_path: Path
) -> None:
    # While the person is in the editor, another `attuned add` (a real process) lands.
    meanwhile = (f"subprocess.run([{sys.executable!r}, '-m', 'attuned', '--config', "
                 f"{str(config)!r}, *{_add('theirs')!r}], check=True)")
    code, out = _edit(config, tmp_path, meanwhile)
    drafts = list(config.parent.glob("config.toml.draft-*"))
    assert code == 1
    assert len(drafts) == 1
    assert out.splitlines()[-1] == (
        f"attuned: {config} changed on disk while you were editing it, so your edit was not "
        f"written over it. Your draft is kept in {drafts[0]}: run `attuned edit` again and "
        "bring your changes over from it.")
    assert _ids(config) == ["breakfast", "theirs"]  # their add is kept
    assert '"07:45"' in drafts[0].read_text() and '"07:45"' not in config.read_text()


def test_an_edit_saved_while_the_lock_is_held_waits_then_keeps_the_draft(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _hold(config)
    try:
        monkeypatch.setattr(edit, "EDIT_LOCK_WAIT", 0.3)
        code, out = _edit(config, tmp_path)
    finally:
        end_process(holder, signal.SIGKILL)
    drafts = list(config.parent.glob("config.toml.draft-*"))
    assert code == 1
    assert len(drafts) == 1 and '"07:45"' in drafts[0].read_text()
    lock = config.parent / ".config.toml.lock"
    assert out.splitlines()[-1] == (
        f"attuned: another attuned command (pid {holder.pid}) is still changing {config}: it "
        f"has held the lock file {lock} for more than 0.3 seconds, so nothing was written; "
        f"run the command again once it has finished. Your draft is kept in {drafts[0]}.")
    assert config.read_text() == BASE
