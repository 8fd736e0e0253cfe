"""A wheel carries what the installed program reads at run time: the example schedule,
the unit template, the desktop entry and icon, the practice library and the word lists.
(Found missing once: data in sub-directories needs the packages found, not listed.)"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_has_every_data_file(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    [wheel] = tmp_path.glob("attuned-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
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
    unit = zipfile.ZipFile(wheel).read("attuned/data/attuned.service").decode()
    assert "Type=notify" in unit
