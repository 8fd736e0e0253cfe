"""`attuned phone setup` writes an unguessable topic into [phone] (comments kept) and
draws its QR code; `attuned phone test` sends one with buttons and waits for the answer
(against the FAKE ntfy server of tests/fake_ntfy.py, the test pressing as the phone)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from daemon_harness import SRC
from fake_ntfy import FakeNtfy

from attuned.cli.root import cli
from attuned.config import read

SCHEDULE = ('# my schedule\n[settings]\nsnooze = "10m"   # ten\n\n'
            '[[practice]]\nid = "p"   # keep me\ntitle = "T"\nmessage = "M"\nat = "09:00"\n')


def test_setup_writes_an_unguessable_topic_and_keeps_the_comments(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(SCHEDULE)
    r = CliRunner().invoke(cli, ["--config", str(config), "phone", "setup",
                                 "https://ntfy.example.org/"])
    assert r.exit_code == 0, r.output
    text = config.read_text()
    assert text.startswith(SCHEDULE)
    [url] = re.findall(r'^\[phone\]\nntfy = "(https://ntfy\.example\.org/attuned-[-_A-Za-z0-9]+)"'
                       r"   # the topic your phone subscribes to\n", text[len(SCHEDULE):],
                       flags=re.M)
    topic = url.rsplit("/", 1)[1].removeprefix("attuned-")
    assert len(topic) == 22  # 16 random bytes, base64: 128 bits
    assert read.parse_text(text).settings.phone.ntfy == url
    assert f"Subscribe to this topic in the ntfy app:\n  {url}\n" in r.output
    assert "█" in r.output or "▀" in r.output  # the QR code, in block characters
    # Again: the topic stays (a phone is subscribed to it), unless --new.
    again = CliRunner().invoke(cli, ["--config", str(config), "phone", "setup"])
    assert "already set" in again.output and config.read_text() == text
    new = CliRunner().invoke(cli, ["--config", str(config), "phone", "setup", "--new"])
    assert new.exit_code == 0, new.output
    newer = config.read_text()
    assert newer.count("ntfy = ") == 1 and url not in newer
    assert "# the topic your phone subscribes to" in newer and newer.startswith(SCHEDULE)


def test_setup_over_an_existing_phone_table(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(SCHEDULE + '\n[phone]\n# who\nwhen = "always"   # always\n')
    r = CliRunner().invoke(cli, ["--config", str(config), "phone", "setup"])
    assert r.exit_code == 0, r.output
    text = config.read_text()
    assert re.search(r'\[phone\]\nntfy = "https://ntfy\.sh/attuned-[-_A-Za-z0-9]{22}"\n'
                     r'# who\nwhen = "always"   # always\n$', text), text


def test_test_without_a_topic_says_how(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(SCHEDULE)
    r = CliRunner().invoke(cli, ["--config", str(config), "phone", "test"])
    assert r.exit_code == 1
    assert r.output == "attuned: no ntfy topic in [phone]; `attuned phone setup` makes one\n"


def test_test_sends_one_and_hears_the_phones_answer(tmp_path: Path) -> None:
    with FakeNtfy() as ntfy:
        config = tmp_path / "config.toml"
        config.write_text(SCHEDULE + f'[phone]\nntfy = "{ntfy.url}/attuned-x"\n')
        proc = subprocess.Popen([sys.executable, "-m", "attuned", "--config", str(config),
                                 "phone", "test", "--wait", "20"], cwd=str(SRC),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            [msg] = ntfy.wait_for("attuned-x", 1, 15)
            assert [a["label"] for a in msg["actions"]] == ["Done", "Snooze", "Skip"]
            ntfy.press(msg, "Snooze")
            out, err = proc.communicate(timeout=15)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        assert out.endswith("The phone answered: Snooze. Nudges will reach it.\n")


def test_test_with_no_answer_says_so(tmp_path: Path) -> None:
    with FakeNtfy() as ntfy:
        config = tmp_path / "config.toml"
        config.write_text(SCHEDULE + f'[phone]\nntfy = "{ntfy.url}/attuned-x"\n')
        r = subprocess.run([sys.executable, "-m", "attuned", "--config", str(config),
                            "phone", "test", "--wait", "1"], cwd=str(SRC),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert r.stderr == ("attuned: sent, but no answer came from the phone in 1 s; is the "
                            "ntfy app subscribed to the topic (`attuned phone setup`)?\n")
        assert len(ntfy.on("attuned-x")) == 1
