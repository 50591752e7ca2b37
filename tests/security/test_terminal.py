"""The audit commands print what customers wrote and named (channel names, intents, entity
values, conversation ids, rules) to an operator's terminal: escape sequences in them are shown,
not executed (actions/audit/terminal.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from actions.audit import cli, kpis, seed
from actions.audit.store import AuditStore
from actions.audit.terminal import safe

ESC = "\x1b]0;pwned\x07\x1b[2J\x1b[1;31mRED\x9b31m\u202eevil"
CONTROL = ("\x1b", "\x07", "\x9b", "\u202e")


def test_safe_shows_control_characters_and_keeps_layout():
    assert safe(ESC) == "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[1;31mRED\\x9b31m\\u202eevil"
    assert safe("tab\there\nnext line café 💳") == "tab\there\nnext line café 💳"
    assert safe(12) == "12"


@pytest.fixture
def hostile_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditStore:
    monkeypatch.setenv("AUDIT_DRAFTS_DB", str(tmp_path / "handoff.sqlite3"))
    store = AuditStore(str(tmp_path / "audit.db"))
    store.insert_turns(seed.known_set() + [
        seed.turn(f"X{ESC}", 1, seed.T0 + 7200, f"intent{ESC}", 0.4, f"rest{ESC}", latency=300, handoff=True,
                  escalation_rule=f"rule{ESC}", entities=[{"entity": "order_id", "value": f"BC-1{ESC}"}],
                  message=f"hello {ESC}", **{k: v for k, v in seed._kb(True, f"q {ESC}").items() if k not in ("action", "actions")}),
    ])
    return store


def _printed(capsys) -> str:
    out = capsys.readouterr()
    return out.out + out.err


def test_audit_commands_print_no_terminal_control_characters(hostile_store: AuditStore, capsys):
    runs = [
        (cli.main, ["--db", hostile_store.url, "list"]),
        (cli.main, ["--db", hostile_store.url, "list", "--refusals"]),
        (cli.main, ["--db", hostile_store.url, "trail", f"X{ESC}"]),
        (kpis.main, ["--db", hostile_store.url, "--since", "2024-05-01", "--until", "2024-05-13"]),
    ]
    for main, argv in runs:
        assert main(argv) == 0, argv
        printed = _printed(capsys)
        assert "\\x1b" in printed, (argv, printed[-500:])
        assert not [c for c in CONTROL if c in printed], (argv, printed[-500:])
