"""KPIs, the HTML report and the drift signal on deterministic seeded trails with known answers."""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from actions.audit import seed
from actions.audit.drift import compare, detect, js_distance, psi
from actions.audit.kpis import load_kpis, percentile
from actions.audit.settings import AuditSettings
from actions.audit.store import AuditStore

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0
SINCE, UNTIL = seed.T0, seed.T0 + 12 * DAY


@pytest.fixture
def known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditStore:
    """The eight-conversation known set, plus the handoff flow's draft outcomes."""
    monkeypatch.setenv("AUDIT_DRAFTS_DB", str(tmp_path / "handoff.sqlite3"))
    seed.write_known_drafts(tmp_path / "handoff.sqlite3")
    store = AuditStore(str(tmp_path / "audit.db"))
    store.insert_turns(seed.known_set())
    return store


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([100, 150, 200, 250, 300, 400, 500, 700, 900, 1100, 1300], 95) == pytest.approx(1200)
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([], 50) is None


def test_kpis_of_the_known_set(known: AuditStore) -> None:
    kpis = load_kpis(known, SINCE, UNTIL)
    overall = kpis["overall"]
    assert overall["conversations"] == 8 and overall["turns"] == 12
    assert overall["containment_rate"] == 0.625 and overall["escalation_rate"] == 0.375
    assert overall["escalation_reasons"] == {"customer_asked": 1, "billing_dispute": 1, "intent:order_status": 1}
    assert overall["knowledge_turns"] == 2
    assert overall["knowledge_answer_rate"] == 0.5 and overall["knowledge_refusal_rate"] == 0.5
    assert overall["fallback_rate"] == round(1 / 12, 4)
    assert overall["low_confidence_rate"] == round(2 / 12, 4)
    assert overall["response_ms_median"] == 400.0 and overall["response_ms_p95"] == 1200.0
    assert overall["reopen_rate"] == round(1 / 3, 4) and overall["reopen_base"] == 3
    assert kpis["drafts"] == {"total": 4, "as_is": 2, "edited": 1, "discarded": 1, "as_is_rate": 0.5,
                              "edited_rate": 0.25, "discarded_rate": 0.25, "acceptance_rate": 0.75}
    by_intent, by_channel = kpis["by_intent"], kpis["by_channel"]
    assert by_intent["order_status"]["conversations"] == 4 and by_intent["order_status"]["containment_rate"] == 0.75
    assert by_intent["ask_question"]["containment_rate"] == 0.5 and by_intent["ask_question"]["knowledge_refusal_rate"] == 0.5
    assert by_intent["billing_dispute"]["escalation_rate"] == 1.0
    assert {name: k["conversations"] for name, k in by_channel.items()} == {"rest": 5, "socketio": 2, "twilio": 1}
    assert by_channel["rest"]["containment_rate"] == 0.8 and by_channel["twilio"]["containment_rate"] == 0.0


def test_reopen_looks_back_before_the_range(known: AuditStore) -> None:
    kpis = load_kpis(known, SINCE + 3 * DAY, UNTIL)  # C1 is before the range, C6 still reopens it
    assert kpis["overall"]["conversations"] == 2
    assert kpis["overall"]["reopen_rate"] == 0.5


def test_kpi_command_prints_the_same_figures(known: AuditStore, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "actions.audit.kpis", "--db", known.url, "--since", "2024-05-01", "--until", "2024-05-13", "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True, env={**_env(tmp_path)},
    )
    data = json.loads(out.stdout)
    assert data["overall"]["containment_rate"] == 0.625 and data["drafts"]["as_is"] == 2
    text = subprocess.run([sys.executable, "-m", "actions.audit.kpis", "--db", known.url, "--since", "2024-05-01",
                           "--until", "2024-05-13"], cwd=ROOT, capture_output=True, text=True, check=True, env=_env(tmp_path)).stdout
    assert "62.5%" in text and "customer_asked 1" in text and "sent as is 50.0%" in text


def _env(tmp_path: Path) -> dict:
    import os

    return {**os.environ, "AUDIT_DRAFTS_DB": str(tmp_path / "handoff.sqlite3"), "PYTHONPATH": str(ROOT)}


def test_report_renders_the_known_figures_with_charts(known: AuditStore, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "kpi_report.html"
    subprocess.run(
        [sys.executable, "-m", "actions.audit.report", "--db", known.url, "--since", "2024-05-01", "--until", "2024-05-13",
         "--out", str(out)], cwd=ROOT, check=True, capture_output=True, env=_env(tmp_path),
    )
    page = out.read_text()
    values = dict(re.findall(r'data-kpi="([^"]+)" data-value="([^"]*)"', page))
    assert values["conversations"] == "8"
    assert float(values["containment_rate"]) == 0.625 and float(values["escalation_rate"]) == 0.375
    assert float(values["knowledge_answer_rate"]) == 0.5 and float(values["fallback_rate"]) == round(1 / 12, 4)
    assert float(values["response_ms_median"]) == 400.0 and float(values["response_ms_p95"]) == 1200.0
    assert float(values["draft_as_is_rate"]) == 0.5 and float(values["reopen_rate"]) == round(1 / 3, 4)
    assert float(values["intent:order_status:containment_rate"]) == 0.75
    assert float(values["channel:twilio:escalation_rate"]) == 1.0
    assert "62.5%" in page and "Resolved by the bot" in page
    charts = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(charts) == 6  # per day, by intent, reasons, reply time, knowledge, drafts
    for chart in charts:
        assert base64.b64decode(chart)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "do you sell cars" in page  # the declined question is listed


def test_drift_metrics_by_hand() -> None:
    p, q = {"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}
    assert js_distance(p, q) == 0 and psi(p, q) == 0
    assert js_distance({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)
    assert psi({"a": 0.6, "b": 0.4}, {"a": 0.4, "b": 0.6}) == pytest.approx(0.2 * 2 * 0.405465, rel=1e-3)


def test_drift_flags_a_shifted_window_and_not_an_unshifted_one(tmp_path: Path) -> None:
    until = seed.T0 + 35 * DAY
    steady = AuditStore(str(tmp_path / "steady.db"))
    steady.insert_turns(seed.demo_set(600, 35))
    shifted = AuditStore(str(tmp_path / "shifted.db"))
    shifted.insert_turns(seed.demo_set(600, 35, shift=True, low_confidence_bias=0.3))
    calm = detect(steady, until)
    assert calm["enough_data"] and not calm["drift"], calm
    moved = detect(shifted, until)
    assert moved["drift"] and {"intent_js_distance", "intent_psi", "low_confidence_share_delta"} <= set(moved["flags"])
    assert moved["top_changes"][0]["intent"] == "service_outage"
    out = subprocess.run([sys.executable, "-m", "actions.audit.drift", "--db", shifted.url, "--until", "2024-06-05", "--fail-on-drift"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 3 and "DRIFT" in out.stdout


def test_drift_is_not_flagged_on_too_little_data() -> None:
    settings = AuditSettings.load()
    few = [{"intent": "greet", "confidence": 0.9}] * 5
    other = [{"intent": "order_status", "confidence": 0.2}] * 5
    result = compare(few, other, settings)
    assert result["intent_js_distance"] == 1.0 and not result["enough_data"] and not result["drift"]
