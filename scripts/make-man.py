"""Write docs/attuned.1, the manual page, from the CLI's own help (`attuned help`).

    python scripts/make-man.py              # writes docs/attuned.1
    python scripts/make-man.py -o FILE      # elsewhere ("-": standard output)

Run it after changing any command's help; tests/test_manual.py fails while the committed
page differs from what this writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's attuned, installed or not

from attuned import __version__  # noqa: E402
from attuned.cli.manual import man_page  # noqa: E402
from attuned.cli.root import cli  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "attuned.1"),
                        help="where to write it (default: docs/attuned.1)")
    args = parser.parse_args(argv)
    page = man_page(cli, __version__)
    if args.output == "-":
        sys.stdout.write(page)
    else:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
