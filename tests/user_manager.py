"""A real systemd user manager for a throwaway user: attuned's service as users run it.

On the test machines PID 1 is not systemd and nobody logs in, so `systemd --user` exits
at once. It runs when set up the way logind would set it up for a login, which is what
this harness does (as root; every step is needed on systemd 252, Debian 12):

  - /run/systemd/system exists (else "system has not been booted with systemd");
  - systemd-journald runs (started here if it does not), with /var/log/journal present
    and a tmpfs on /run/log, flushed to persistent storage: only then does the journal
    keep a per-user file and `journalctl --user` shows the user's units;
  - a throwaway user (`useradd -m`), with a cgroup delegated to user@UID.service under
    user.slice/user-UID.slice/ in the cgroup2 hierarchy and, where the machine mounts
    it, the name=systemd v1 one, owned by the user; the manager is started inside both;
  - a tmpfs on /run/user/UID (0700, the user's), and /run/systemd/unit-root;
  - dbus-user-session gives the manager the user's bus (dbus.socket);
  - the manager: `setpriv --reuid --regid --init-groups env -i HOME=... XDG_RUNTIME_DIR=...
    /lib/systemd/systemd --user --log-target=journal`. It says READY=1 on $NOTIFY_SOCKET
    once it answers; `UserManager.start` waits for that, then for its start-up jobs
    (`systemctl --user is-system-running --wait`).

Never start `systemd --user` as root in the root cgroup: it moves every process of the
machine, PID 1 included, into its init.scope.

The user gets attuned the way a person would: a wheel of this checkout, installed into a
venv in their home, linked as ~/.local/bin/attuned (the layout pipx makes), so the
service runs that user's attuned and not this checkout.

Everything made is undone in reverse order by path and PID: the manager (and with it the
user's services), journald if it was started here, the mounts, the cgroups, the user and
their home. Processes left over under the user's uid are killed by uid, which is only
acceptable because the user is a throwaway made here.

Fixtures (this module is a pytest plugin, registered from conftest.py):

  service_user   (session) a ServiceUser: the user, the machine set-up and the install
  UserManager(service_user).start() / .relogin() / .stop()   one login of that user
  UserDesktop(service_user).start() / .stop()   Xvfb and the real dunst on the user's bus
  Journal(user).follow()   the service's journal lines (read as root), awaitable

Tests marked `user_manager` skip, saying why, where this cannot run (not root, systemd
or dbus-user-session missing, PID 1 is systemd); under ATTUNED_REQUIRE_USER_MANAGER=1
(CI) that is a failure instead.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from processes import read_line

SRC = Path(__file__).resolve().parent.parent
SYSTEMD = Path("/lib/systemd/systemd")
JOURNALD = Path("/lib/systemd/systemd-journald")
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
DBUS_USER_SOCKET = Path("/usr/lib/systemd/user/dbus.socket")
REQUIRE = "ATTUNED_REQUIRE_USER_MANAGER"
# For the test modules: `pytestmark = MARKS`. One xdist worker runs them all (with
# --dist loadgroup), so one user, one install and one journald serve them.
MARKS = [pytest.mark.user_manager, pytest.mark.xdist_group("user_manager")]
START_TIMEOUT = 30.0   # the manager's start-up; journald's
WAIT = 20.0            # default bound of every other wait here
STOP_TIMEOUT = 15.0
MACHINE_LOCK = "\0attuned-user-manager-tests"


# ---------------------------------------------------------------- can it run here?


def _base_python() -> str:
    """The system's Python (Debian's, as pipx would use), not this venv's: the user
    cannot run an interpreter under root's home."""
    for candidate in ("/usr/bin/python3", "/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return "python3"


def user_manager_problem() -> str | None:
    """Why a user manager cannot be set up here, or None."""
    if not sys.platform.startswith("linux"):
        return "need Linux"
    if os.geteuid() != 0:
        return "need root (they create a user, cgroups and mounts)"
    with contextlib.suppress(OSError):
        if Path("/proc/1/comm").read_text().strip() == "systemd":
            return ("run only where PID 1 is not systemd (the harness stands in for "
                    "logind); here, try `systemctl start user@UID.service` by hand")
    missing = []
    if not SYSTEMD.exists() or not JOURNALD.exists():
        missing.append("systemd")
    if not DBUS_USER_SOCKET.exists():
        missing.append("dbus-user-session")
    for tool, package in (("setpriv", "util-linux"), ("useradd", "passwd"),
                          ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            missing.append(package)
    venv = subprocess.run([_base_python(), "-c", "import ensurepip, venv"],
                          capture_output=True, check=False)
    if venv.returncode != 0:
        missing.append("python3-venv")
    if missing:
        return (f"need the Debian packages {', '.join(sorted(set(missing)))} "
                "(apt-get install -y ...)")
    if not _cgroup_roots():
        return "need a cgroup2 hierarchy (none in /proc/self/mounts)"
    return None


def need_user_manager() -> None:
    problem = user_manager_problem()
    if problem is None:
        return
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but the user manager tests {problem}")
    pytest.skip(f"the user manager tests {problem}")


def _cgroup_roots() -> list[Path]:
    """The hierarchies a login's cgroup is made in: cgroup2, and name=systemd where the
    machine mounts it (a hybrid layout, as on the test machines)."""
    roots: list[Path] = []
    named: list[Path] = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 4:
                continue
            kind, where, options = fields[2], Path(fields[1]), fields[3].split(",")
            if kind == "cgroup2":
                roots.append(where)
            elif kind == "cgroup" and "name=systemd" in options:
                named.append(where)
    return roots[:1] + named[:1]


# ---------------------------------------------------------------- small helpers


def _wait_until(check: Callable[[], bool], timeout: float, what: str,
                step: float = 0.05) -> None:
    """For conditions nothing announces (a path appears, a cgroup empties)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        time.sleep(step)


class NotifySocket:
    """An sd_notify socket: systemd and journald say READY=1 here once started."""

    def __init__(self, directory: Path, name: str, uid: int | None = None) -> None:
        self.path = directory / name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        # The manager sends as the user.
        os.chmod(self.path, 0o666)
        if uid is not None:
            os.chown(self.path, uid, -1)

    def wait_ready(self, timeout: float, alive: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{what} did not say READY=1 within {timeout:g} s")
            if select.select([self.sock], [], [], min(left, 0.5))[0]:
                message = self.sock.recv(65536).decode(errors="replace")
                if "READY=1" in message.split("\n"):
                    return
            elif not alive():
                raise RuntimeError(f"{what} exited before it was ready")

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


def _kill_and_wait(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT,
                   sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def _cgroup_pids(cgroup: Path) -> list[int]:
    pids: list[int] = []
    for procs in cgroup.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in procs.read_text().split()]
    return pids


def _uid_pids(uid: int) -> list[int]:
    """Processes whose real uid is `uid` (only ever the throwaway user's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("Uid:"):
                    if int(line.split()[1]) == uid:
                        found.append(int(entry.name))
                    break
    return found


def _kill_pids(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- the machine and user


class ServiceUser:
    """A throwaway user, the machine set up for their logins, and attuned installed in
    their home. `setup()` records how to undo each step as it makes it; `teardown()`
    undoes them all, newest first, even after a partial set-up."""

    def __init__(self, workdir: Path, name: str | None = None) -> None:
        self.workdir = workdir
        self.name = name or f"attuned-t{os.getpid()}"
        self.uid = self.gid = -1
        self.home = Path("/nonexistent")
        self.cgroups: list[Path] = []
        self._undo = contextlib.ExitStack()

    # -- derived paths ---------------------------------------------------------------

    @property
    def runtime_dir(self) -> Path:
        return Path(f"/run/user/{self.uid}")

    @property
    def bus_address(self) -> str:
        return f"unix:path={self.runtime_dir}/bus"

    @property
    def attuned(self) -> Path:
        return self.home / ".local" / "bin" / "attuned"

    @property
    def venv(self) -> Path:
        return self.home / ".local" / "lib" / "attuned-venv"

    @property
    def config_dir(self) -> Path:
        return self.home / ".config" / "attuned"

    @property
    def config(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def state_dir(self) -> Path:
        return self.home / ".local" / "state" / "attuned"

    @property
    def unit_dir(self) -> Path:
        return self.home / ".config" / "systemd" / "user"

    # -- running things as the user --------------------------------------------------

    def session_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a terminal in the user's session."""
        env = {
            "HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
            "SHELL": "/bin/bash", "LANG": "C.UTF-8",
            "PATH": f"{self.home}/.local/bin:/usr/local/bin:/usr/bin:/bin",
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
        }
        env.update(extra or {})
        return env

    def argv(self, argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]

    def run(self, *argv: str, timeout: float = WAIT, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`argv` as the user in their session environment; output captured."""
        try:
            done = subprocess.run(self.argv(argv, self.session_env(env)), capture_output=True,
                                  text=True, timeout=timeout, cwd=self.home, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"`{' '.join(argv)}` as {self.name} did not finish "
                                 f"within {timeout:g} s") from e
        if check and done.returncode != 0:
            raise AssertionError(f"`{' '.join(argv)}` as {self.name} exited "
                                 f"{done.returncode}:\n{done.stdout}{done.stderr}")
        return done

    def popen(self, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
              **kwargs: Any) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(self.argv(argv, self.session_env(env)), cwd=self.home,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    **kwargs)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--user", *args, check=check)

    def service_state(self, unit: str = "attuned.service") -> str:
        """`systemctl --user is-active`: active, inactive, failed, activating..."""
        return self.systemctl("is-active", unit, check=False).stdout.strip()

    def main_pid(self, unit: str = "attuned.service") -> int:
        return int(self.systemctl("show", unit, "-p", "MainPID", "--value").stdout)

    def write(self, path: Path, text: str) -> None:
        """Replace `path` (the user's) by rename, as editors save, owned by the user."""
        for parent in reversed(path.parents):
            if parent.is_relative_to(self.home) and not parent.exists():
                parent.mkdir()
                os.chown(parent, self.uid, self.gid)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.chown(tmp, self.uid, self.gid)
        os.replace(tmp, path)

    # -- set-up ------------------------------------------------------------------------

    def setup(self) -> ServiceUser:
        try:
            self._setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def _setup(self) -> None:
        self._take_machine()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        self._make_dir(Path("/run/systemd/system"))
        self._make_dir(Path("/run/systemd/unit-root"))
        self._journald()
        if subprocess.run(["id", self.name], capture_output=True).returncode == 0:
            raise RuntimeError(f"the user {self.name} exists already")
        # systemd-journal: the user reads their own journal file through an ACL journald
        # sets, which not every filesystem takes; the group reads it everywhere.
        groups = ["-G", "systemd-journal"] if _group_exists("systemd-journal") else []
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", *groups, self.name], check=True,
                       capture_output=True, timeout=WAIT)
        self._undo.callback(self._remove_user)
        entry = pwd.getpwnam(self.name)
        self.uid, self.gid, self.home = entry.pw_uid, entry.pw_gid, Path(entry.pw_dir)
        self._undo.callback(self._remove_journal_files)
        self._make_dir(Path("/run/user"))
        self._cgroups()
        self.mount_runtime_dir()
        self._undo.callback(self.unmount_runtime_dir)
        self._undo.callback(self._kill_leftovers)
        self._install()

    def _make_dir(self, path: Path) -> None:
        if not path.exists():
            path.mkdir(parents=True)
            self._undo.callback(self._rmdir, path)

    def _take_machine(self, timeout: float = 600.0) -> None:
        """One run of these tests per machine at a time (another pytest may run them
        too): journald, /run/systemd and /run/log are the machine's, not the user's.
        An abstract socket is the lock: nothing on disk, released if the run dies."""
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                lock.bind(MACHINE_LOCK)
                break
            except OSError:
                if time.monotonic() > deadline:
                    lock.close()
                    raise TimeoutError(f"another test run kept the user manager tests' "
                                       f"lock for {timeout:g} s") from None
                time.sleep(0.2)
        self._undo.callback(lock.close)

    @staticmethod
    def _rmdir(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.rmdir()

    def _journald(self) -> None:
        if JOURNAL_SOCKET.is_socket():
            # The machine's own, or another test run's: used, never stopped; asked to
            # write to /var/log/journal, where the per-user files are kept, if it can.
            subprocess.run(["journalctl", "--flush"], check=False, timeout=WAIT,
                           capture_output=True)
            return
        machine_id = Path("/etc/machine-id").read_text().strip()
        persistent = Path("/var/log/journal")
        if not persistent.exists():
            persistent.mkdir(parents=True)
            self._undo.callback(lambda: shutil.rmtree(persistent, ignore_errors=True))
        elif not (persistent / machine_id).exists():
            self._undo.callback(
                lambda: shutil.rmtree(persistent / machine_id, ignore_errors=True))
        run_log = Path("/run/log")
        self._make_dir(run_log)
        if not os.path.ismount(run_log):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(run_log)],
                           check=True, timeout=WAIT)
            self._undo.callback(lambda: subprocess.run(["umount", str(run_log)], check=False))
        made_journal_dir = not JOURNAL_SOCKET.parent.exists()
        notify = NotifySocket(self.workdir, "journald.notify")
        self._undo.callback(notify.close)
        with open(self.workdir / "journald.log", "ab") as out:
            journald = subprocess.Popen([str(JOURNALD)], stdout=out, stderr=out,
                                        stdin=subprocess.DEVNULL,
                                        env={"NOTIFY_SOCKET": str(notify.path)})

        def stop_journald() -> None:
            _kill_and_wait(journald)
            if made_journal_dir:
                shutil.rmtree(JOURNAL_SOCKET.parent, ignore_errors=True)

        self._undo.callback(stop_journald)
        notify.wait_ready(START_TIMEOUT, lambda: journald.poll() is None, "systemd-journald")
        # To /var/log/journal: the per-user files `journalctl --user` reads exist only there.
        subprocess.run(["journalctl", "--flush"], check=True, timeout=WAIT,
                       capture_output=True)

    def _cgroups(self) -> None:
        for root in _cgroup_roots():
            slice_ = root / "user.slice" / f"user-{self.uid}.slice"
            for made in (root / "user.slice", slice_):
                self._make_dir(made)
            login = slice_ / f"user@{self.uid}.service"
            login.mkdir()
            self._undo.callback(self._remove_cgroup, login)
            for path in [login, *login.iterdir()]:
                os.chown(path, self.uid, self.gid)
            self.cgroups.append(login)

    def _remove_cgroup(self, cgroup: Path) -> None:
        for sub in sorted((p for p in cgroup.rglob("*") if p.is_dir()),
                          key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            cgroup.rmdir()

    def mount_runtime_dir(self) -> None:
        self.runtime_dir.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"mode=0700,uid={self.uid},"
                        f"gid={self.gid}", "tmpfs", str(self.runtime_dir)],
                       check=True, timeout=WAIT)

    def unmount_runtime_dir(self) -> None:
        """What logind does once the user's last session ends."""
        if os.path.ismount(self.runtime_dir) and subprocess.run(
                ["umount", str(self.runtime_dir)], check=False,
                capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.runtime_dir)], check=False)
        with contextlib.suppress(OSError):
            self.runtime_dir.rmdir()

    def kill_logins(self) -> None:
        """Every process left in the user's login cgroups, and under the user's uid."""
        for cgroup in self.cgroups:
            kill = cgroup / "cgroup.kill"
            if kill.exists():
                kill.write_text("1")
            else:
                _kill_pids(_cgroup_pids(cgroup))
        with contextlib.suppress(TimeoutError):
            _wait_until(lambda: not any(_cgroup_pids(c) for c in self.cgroups), 5,
                        "the login's cgroups emptied")

    def _kill_leftovers(self) -> None:
        self.kill_logins()
        for _ in range(20):
            pids = _uid_pids(self.uid)
            if not pids:
                break
            _kill_pids(pids)
            time.sleep(0.05)

    def _remove_user(self) -> None:
        subprocess.run(["userdel", "-r", self.name], check=False, capture_output=True,
                       timeout=WAIT)

    def _remove_journal_files(self) -> None:
        machine_id = Path("/etc/machine-id").read_text().strip()
        for path in Path("/var/log/journal", machine_id).glob(f"user-{self.uid}*.journal*"):
            path.unlink(missing_ok=True)

    def _install(self) -> None:
        """attuned from a wheel of this checkout into a venv in the user's home."""
        wheels = self.workdir / "wheels"
        wheels.mkdir()
        # Root builds the wheels (its pip cache and the configured index); the user
        # installs them with pip, offline, into their own venv.
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels),
                        str(SRC)], check=True, capture_output=True, timeout=300, cwd=wheels)
        for path in [wheels, *wheels.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(self.home / ".local")],
                       check=True)
        self.run(_base_python(), "-m", "venv", str(self.venv), timeout=120)
        self.run(str(self.venv / "bin" / "pip"), "install", "-q", "--no-index",
                 "--find-links", str(wheels), "attuned", timeout=300)
        self.run("mkdir", "-p", str(self.attuned.parent))
        self.run("ln", "-s", str(self.venv / "bin" / "attuned"), str(self.attuned))

    def teardown(self) -> None:
        self._undo.close()


# ---------------------------------------------------------------- a login


class UserManager:
    """One login of the user: `systemd --user` in the user's delegated cgroups."""

    def __init__(self, user: ServiceUser) -> None:
        self.user = user
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> UserManager:
        user = self.user
        assert self.process is None or self.process.poll() is not None, "already running"
        if not os.path.ismount(user.runtime_dir):  # what logind makes at the first login
            user.mount_runtime_dir()
        notify = NotifySocket(user.workdir, "manager.notify", uid=user.uid)
        try:
            env = {k: v for k, v in user.session_env().items()
                   if k != "DBUS_SESSION_BUS_ADDRESS"}
            env["NOTIFY_SOCKET"] = str(notify.path)
            inner = user.argv([str(SYSTEMD), "--user", "--log-target=journal"], env)
            # The shell moves itself into the login's cgroups, then becomes the manager.
            script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 1; shift; done; ' \
                     'shift; exec "$@"'
            procs = [str(c / "cgroup.procs") for c in user.cgroups]
            with open(user.workdir / "manager.log", "ab") as out:
                self.process = subprocess.Popen(
                    ["sh", "-c", script, "sh", *procs, "--", *inner], cwd=user.home,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            proc = self.process
            notify.wait_ready(START_TIMEOUT, lambda: proc.poll() is None,
                              f"systemd --user for {user.name}")
            # READY=1 comes once the manager answers, before the login's units (what
            # default.target wants) have started: wait for those too, as a login does.
            user.run("systemctl", "--user", "is-system-running", "--wait", check=False,
                     timeout=START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        finally:
            notify.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        """Log out: the manager stops the user's services and exits; then what logind
        would do when the last session ends (kill what is left, remove /run/user/UID)."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            self.user.systemctl("exit", check=False)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _kill_and_wait(proc)
        self.user.kill_logins()
        self.user.unmount_runtime_dir()

    def relogin(self) -> UserManager:
        """Log out and in again: a new manager, a fresh /run/user/UID, and no desktop,
        so graphical-session.target is never reached (as with a plain window manager)."""
        self.stop()
        return self.start()


# ---------------------------------------------------------------- a desktop


DUNSTRC = """[global]
    font = Monospace 10
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""

# Run as the user with their attuned's Python (it has dbus-fast): root may not talk on
# the user's bus. NameHasOwner and NameOwnerChanged start nothing, where a call to the
# name would make the bus start dunst's activation file in the manager, without a display.
WAIT_FOR_NAME = """
import asyncio, sys
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

async def main(name, timeout):
    bus = await MessageBus().connect()
    owned = asyncio.Event()
    def seen(msg):
        if (msg.message_type is MessageType.SIGNAL and msg.member == "NameOwnerChanged"
                and msg.body[0] == name and msg.body[2]):
            owned.set()
    bus.add_message_handler(seen)
    for member, body in (
            ("AddMatch", [f"type='signal',member='NameOwnerChanged',arg0='{name}'"]),
            ("NameHasOwner", [name])):
        reply = await bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member=member, signature="s", body=body))
        if member == "NameHasOwner" and reply.body[0]:
            owned.set()
    await asyncio.wait_for(owned.wait(), timeout)

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


class UserDesktop:
    """A virtual screen (Xvfb, run by the test) and the real dunst on it, run as the
    user on the user's bus: what a plain window manager session would have."""

    NAME = "org.freedesktop.Notifications"

    def __init__(self, user: ServiceUser) -> None:
        self.user = user
        self.display = ""
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._dunst: subprocess.Popen[bytes] | None = None

    def start(self) -> UserDesktop:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        user = self.user
        read, write = os.pipe()
        try:
            with open(user.workdir / "xvfb.log", "ab") as out:
                self._xvfb = subprocess.Popen(
                    ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24",
                     "-nolisten", "tcp"], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    pass_fds=(write,))
            os.close(write)
            write = -1
            # The whole line: Xvfb dies if the pipe closes before its newline is written.
            number = read_line(read, START_TIMEOUT).strip()
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)
        if not number.isdigit():
            raise RuntimeError(f"Xvfb did not report its display within {START_TIMEOUT:g} s")
        self.display = f":{number}"
        rc = user.workdir / "dunstrc"
        rc.write_text(DUNSTRC)
        rc.chmod(0o644)
        self._dunst = user.popen(["dunst", "-config", str(rc)], user.workdir / "dunst.log",
                                 env={"DISPLAY": self.display})
        waited = user.run(str(user.venv / "bin" / "python"), "-c", WAIT_FOR_NAME, self.NAME,
                          str(START_TIMEOUT), timeout=START_TIMEOUT + 5, check=False)
        if waited.returncode != 0:
            log = (user.workdir / "dunst.log").read_text(errors="replace")
            raise RuntimeError(f"dunst did not take {self.NAME} on the user's bus within "
                               f"{START_TIMEOUT:g} s; its log:\n{log}")

    def dunstctl(self, *args: str) -> str:
        return self.user.run("dunstctl", *args, env={"DISPLAY": self.display}).stdout.strip()

    def history(self) -> list[dict[str, Any]]:
        """What dunst has closed (`dunstctl history`), newest first."""
        data = json.loads(self.dunstctl("history"))
        return [{k: v.get("data") for k, v in item.items()} for item in data["data"][0]]

    def stop(self) -> None:
        for proc in (self._dunst, self._xvfb):
            if proc is not None:
                _kill_and_wait(proc, 5)


# ---------------------------------------------------------------- the journal


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


class Journal:
    """The service's journal lines (and its manager's about it), as they come.

    Read as root with the user's `_UID` and the unit as matches, polled with a cursor
    rather than followed with `journalctl -f`: each poll opens the journal files afresh,
    so lines land however journald stores them (a per-user file made after the reader
    started, volatile storage, a file whose ACL for the user could not be set). What the
    user's own `journalctl --user` shows is tested where the tests use it.
    """

    POLL = 0.2

    def __init__(self, user: ServiceUser, unit: str = "attuned.service") -> None:
        self.user = user
        self.unit = unit
        self.entries: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._cursor: str | None = None
        self.problem = ""

    def _argv(self) -> list[str]:
        uid = f"_UID={self.user.uid}"
        argv = ["journalctl", "--no-pager", "-o", "json", "--all",
                uid, f"_SYSTEMD_USER_UNIT={self.unit}", "+", uid, f"USER_UNIT={self.unit}"]
        if self._cursor is not None:
            argv.insert(1, f"--after-cursor={self._cursor}")
        return argv

    def follow(self) -> Journal:
        self._reader = threading.Thread(target=self._read, name="journal", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                done = subprocess.run(self._argv(), capture_output=True, text=True,
                                      timeout=WAIT, stdin=subprocess.DEVNULL, check=False)
            except subprocess.TimeoutExpired:
                self.problem = f"journalctl did not answer within {WAIT:g} s"
                continue
            if done.returncode != 0:
                self.problem = f"journalctl exited {done.returncode}: {done.stderr.strip()}"
            for line in done.stdout.splitlines():
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    self._cursor = str(entry.get("__CURSOR", self._cursor))
                    with self._cond:
                        entry["_index"] = len(self.entries)
                        self.entries.append(entry)
                        self._cond.notify_all()
            self._stop.wait(self.POLL)

    def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(WAIT + 5)

    def diagnosis(self) -> str:
        """What the machine says when an awaited line did not come."""
        parts = [f"reader: {self.problem or 'no error'}"]
        for title, argv in (
                ("the user's lines in the journal",
                 ["journalctl", "--no-pager", "-n", "30", "-o", "short-precise",
                  f"_UID={self.user.uid}"]),
                ("journal files", ["sh", "-c", "ls -l /var/log/journal/* /run/log/journal/* "
                                   "2>&1 | tail -20"]),
                ("journald", ["sh", "-c", f"tail -20 {self.user.workdir}/journald.log "
                              "2>/dev/null; pgrep -a journald"])):
            shown = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT,
                                   check=False, stdin=subprocess.DEVNULL)
            parts.append(f"-- {title}:\n{(shown.stdout + shown.stderr).strip()}")
        status = self.user.systemctl("status", "--no-pager", "-n", "20", self.unit,
                                     check=False)
        parts.append(f"-- systemctl --user status:\n{(status.stdout + status.stderr).strip()}")
        return "\n".join(parts)

    def mark(self) -> int:
        with self._cond:
            return len(self.entries)

    @staticmethod
    def message(entry: Mapping[str, Any]) -> str:
        value = entry.get("MESSAGE", "")
        if isinstance(value, list):  # journalctl writes non-UTF-8 messages as bytes
            return bytes(value).decode(errors="replace")
        return str(value)

    def lines(self, since: int = 0) -> list[str]:
        with self._cond:
            return [self.message(e) for e in self.entries[since:]]

    def wait_for(self, pattern: str, timeout: float = WAIT, *, since: int = 0,
                 after: Mapping[str, Any] | None = None, pid: int | None = None,
                 count: int = 1) -> list[dict[str, Any]]:
        """The first `count` entries from `since` (or `after` an entry) whose MESSAGE
        matches `pattern` (and that process `pid` wrote). `mark()` is only as recent as
        the lines read so far: wait for a line an action makes, or name the process."""
        rx = re.compile(pattern)
        if after is not None:
            since = int(after["_index"]) + 1
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.entries[since:] if rx.search(self.message(e))
                         and (pid is None or e.get("_PID") == str(pid))]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    shown = "\n".join(self.message(e) for e in self.entries[since:])
                    raise AssertionError(
                        f"{len(found)} journal lines matching {pattern!r} after {timeout:g} s "
                        f"(wanted {count}); the journal since then:\n{shown}\n"
                        f"{self.diagnosis()}")
                self._cond.wait(min(left, 0.5))

    def __enter__(self) -> Journal:
        return self.follow()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def service_user() -> Iterator[ServiceUser]:
    need_user_manager()
    workdir = Path(tempfile.mkdtemp(prefix="attuned-um-"))
    try:
        user = ServiceUser(workdir).setup()
        try:
            yield user
        finally:
            user.teardown()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
