"""The user manager harness (tests/user_manager.py) itself: where it cannot run, its tests
are skipped with the reason, and under ATTUNED_REQUIRE_USER_MANAGER=1 (CI) they fail."""

from __future__ import annotations

import os

import pytest
from user_manager import REQUIRE, need_user_manager


def test_where_it_cannot_run_it_is_a_skip_with_its_reason_or_a_failure_in_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv(REQUIRE, raising=False)
    reason = r"the user manager tests need root \(they create a user, cgroups and mounts\)"
    with pytest.raises(pytest.skip.Exception, match=f"^{reason}$"):
        need_user_manager()
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception,
                       match=f"^ATTUNED_REQUIRE_USER_MANAGER=1 but {reason}$"):
        need_user_manager()
