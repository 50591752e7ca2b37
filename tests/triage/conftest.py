"""Triage tests run in-process; anything they store goes to a temporary directory."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_handoff_db(tmp_path, monkeypatch):
    from actions import outbox

    monkeypatch.setenv("HANDOFF_DB", str(tmp_path / "handoff.sqlite3"))
    outbox.reset()
    yield
    outbox.reset()
