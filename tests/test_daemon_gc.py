"""The daemon pauses the cyclic garbage collector while it reads and plans a schedule
(a tenth of the start-up with 10,000 practices), and always turns it back on."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from attuned.daemon.lifecycle import gc_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_back_on_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_error() -> None:
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("a bad schedule")
    assert gc.isenabled()


def test_left_off_if_it_was_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()
