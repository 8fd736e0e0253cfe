"""attuned's face on the desktop, as shipped: the desktop entry passes
desktop-file-validate (Debian's desktop-file-utils), and the icon PNGs are what
scripts/render-icons.sh makes of the SVG (rsvg-convert, Debian's librsvg2-bin)."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "attuned" / "data" / "icons"
SIZES = (16, 32, 48, 64, 128, 256)


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["desktop-file-validate", str(path)], capture_output=True,
                          text=True, timeout=30, check=False)


def test_the_shipped_desktop_entry_is_valid_and_names_the_icon() -> None:
    shipped = ROOT / "attuned" / "data" / "attuned.desktop"
    result = validate(shipped)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = shipped.read_text()
    assert "\nIcon=attuned\n" in text and "\nName=attuned\n" in text
    assert "\nExec=attuned run\n" in text


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_icon_pngs_are_the_svg_rendered_at_each_size() -> None:
    for n in SIZES:
        assert png_size(ICONS / f"attuned-{n}.png") == (n, n)
    # scripts/render-icons.sh --check renders the SVG afresh and compares.
    checked = subprocess.run([str(ROOT / "scripts" / "render-icons.sh"), "--check"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert (checked.returncode, checked.stderr) == (0, "")
