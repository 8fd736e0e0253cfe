"""What installing, removing and inspecting the service found and did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InstallResult:
    manager: str                          # "systemd", "launchd" or "autostart"
    path: Path                            # the unit file, agent or autostart entry written
    exec_start: str                       # the command the service runs
    changed: bool                         # False if the same file was already there
    backup: Path | None                   # where a different earlier file was kept
    started: bool                         # started (or restarted) now
    restart_needed: bool                  # running an older unit; restart to pick this up
    commands: tuple[tuple[str, ...], ...]  # what was run, in order
    hint: str | None                      # how to make it start at login, if it won't;
                                          # for autostart: why not systemd (None: asked)
    sandbox_off: str | None = None        # why the unit runs without its mount sandbox
    log: Path | None = None               # where its log goes (autostart)
    files: tuple[Path, ...] = ()          # the desktop entry and icon files (Linux)
    files_changed: bool = False           # any of them written now
    replaced: Path | None = None          # an autostart entry the unit took the place of


@dataclass(frozen=True)
class UninstallResult:
    manager: str
    path: Path
    removed: bool                         # False: nothing was installed
    removed_links: tuple[Path, ...]       # leftover .wants/ links cleaned up
    commands: tuple[tuple[str, ...], ...]
    files: tuple[Path, ...] = ()          # desktop entry, icons, autostart entry removed


@dataclass(frozen=True)
class ServiceStatus:
    manager: str
    path: Path
    installed: bool                       # the unit file / agent / autostart entry exists
    enabled: str                          # systemctl is-enabled (or launchd: "loaded"/...)
    active: str                           # systemctl is-active: active, inactive, failed...
    exec_start: str | None                # what the installed unit runs
    expected_exec_start: str              # what it would run if installed from this attuned
    detail: str                           # `systemctl --user status` text, for people

    @property
    def points_here(self) -> bool:
        return self.exec_start == self.expected_exec_start
