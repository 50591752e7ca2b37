"""The KPI report (actions/audit/report.py) with hostile text in everything a customer controls
in the trail: the declined question (their words), the channel name and the intent name (a REST
client can send any ``input_channel`` and any ``/intent``), the escalation rule, the title.
The page must contain only the report's own markup, the hostile text as text, and still render
(matplotlib reads ``$...$`` in chart labels as math; malformed math used to fail the report)."""
from __future__ import annotations

from html.parser import HTMLParser
from typing import List, Tuple

from actions.audit import seed
from actions.audit.kpis import compute_kpis
from actions.audit.report import render
from actions.audit.settings import AuditSettings

HOSTILE = ('</li></ul></div><script>alert(1)</script><img src=x onerror=alert(2)> "><svg onload=alert(3)> '
           "' onmouseover='alert(4)' $\\frac{x$ ${{7*7}} [click](javascript:alert(5)) &amp;")
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "main", "section", "div",
                "img", "ul", "li", "small", "table", "tr", "th", "td", "footer"}


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: List[Tuple[str, List[Tuple[str, str]]]] = []
        self.text: List[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def hostile_turns():
    h = 3600.0
    return seed.known_set() + [
        seed.turn("X1", 1, seed.T0 + 2 * h, "ask_question", 0.8, HOSTILE, latency=300, **seed._kb(True, HOSTILE)),
        seed.turn("X2", 1, seed.T0 + 2 * h + 60, HOSTILE, 0.8, HOSTILE, latency=300, handoff=True, escalation_rule=HOSTILE),
    ]


def test_the_report_shows_hostile_text_as_text_and_renders():
    turns = hostile_turns()
    kpis = compute_kpis(turns, seed.T0, seed.T0 + 12 * 86400, [], [], AuditSettings.load())
    assert HOSTILE in kpis["by_channel"] and HOSTILE in kpis["by_intent"] and HOSTILE in kpis["overall"]["escalation_reasons"]
    page = render(kpis, turns, title=f"KPIs {HOSTILE}")

    parsed = Collector()
    parsed.feed(page)
    tags = {tag for tag, _ in parsed.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    for tag, attrs in parsed.tags:
        names = [name for name, _ in attrs]
        assert not [n for n in names if n.startswith("on")], (tag, attrs)
        assert set(names) <= {"lang", "charset", "class", "data-kpi", "data-value", "alt", "src"}, (tag, attrs)
        if tag == "img":
            assert dict(attrs)["src"].startswith("data:image/png;base64,"), attrs
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 4  # title, heading, declined question, channel and intent rows
    assert sum(1 for tag, attrs in parsed.tags if tag == "td" and any(HOSTILE in v for _, v in attrs)) >= 10  # data-kpi, whole
    # every chart with data (no draft outcomes given here), including the ones labelled with the $ text
    assert page.count("<img") == 5 and "No data for “agent drafts”" in page


def test_dollar_signs_in_chart_labels_do_not_break_the_charts():
    from actions.audit.report import _label, chart_by_intent, chart_reasons

    assert _label("cost $5 and $\\frac{x$") == "cost \\$5 and \\$\\frac{x\\$"
    assert chart_reasons({"$\\frac{x$": 2, "plain": 1})
    turns = hostile_turns()
    kpis = compute_kpis(turns, seed.T0, seed.T0 + 12 * 86400, [], [], AuditSettings.load())
    assert chart_by_intent(kpis["by_intent"])
