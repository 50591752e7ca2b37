"""Replay recorded conversations through a model and print where it decides differently.

    python -m actions.audit.replay --model models/new.tar.gz --from-tracker-store [DB]
    python -m actions.audit.replay --model models/new.tar.gz --stories tests/stories
    python -m actions.audit.replay --rasa-url http://127.0.0.1:5005 --from-tracker-store var/rasa_tracker.db
        [--conversation ID ...] [--since 7d] [--until ...] [--rules config/escalation_rules.yml] [--json]

For each recorded customer message the model's NLU parses the text (``POST /model/parse``) and the
intent is compared with the recorded one. Then, step by step, the model predicts the next action
from the recorded conversation up to that point (``POST /model/predict``: stateless, nothing is
stored or published) and the prediction is compared with the action that was recorded; the
recorded action is then appended, so one early difference does not cascade (teacher forcing, as
``rasa test`` does). A turn's escalation differs when one side hands over to a person and the
other does not, or — with the escalation rules of the action server importable — when the rules
file (``--rules``, default the one in force) picks another rule than the one recorded.

``--model`` starts a Rasa server (from .venv-rasa, loopback, free port, in-memory tracker store)
with that model and stops it at the end; ``--rasa-url`` uses one already running instead. Exit
code 0 without differences, 1 with differences, 2 on errors: usable as a pre-deploy gate.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import httpx
import yaml

from actions.audit.cli import parse_time
from actions.audit.settings import AuditSettings
from actions.audit.sources import read_tracker_store
from actions.audit.terminal import safe
from actions.audit.turns import HANDOFF_ACTION, NOT_PREDICTED
from actions.config import PROJECT_ROOT
from actions.pii import mask

TRIAGE_SLOTS = {"triage", "frustration", "risk_class", "escalation_rule", "escalation_reason"}
# Rasa through the project entry point: the patch layer applied as in production (rasa_addons/launch.py)
RASA_LAUNCH = [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-m", "rasa_addons.launch"]
Event = Dict[str, Any]


@dataclass
class Difference:
    conversation_id: str
    turn: int
    kind: str  # intent | action | escalation | rule
    recorded: Optional[str]
    replayed: Optional[str]
    message: str
    detail: str = ""


@dataclass
class ReplayResult:
    conversations: int = 0
    turns: int = 0
    actions: int = 0
    differences: List[Difference] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for d in self.differences if d.kind == kind)


# -- recorded conversations ---------------------------------------------------------------------

# linear: the value may not contain '[' (each '[' would rescan to the end of a run of them)
ENTITY_RE = re.compile(r"\[(?P<value>[^\[\]]+)\](?:\((?P<name>[\w-]+)\)|\{(?P<json>[^{}]*)\})")


def parse_story_text(text: str) -> Tuple[str, List[Dict[str, Any]]]:
    """'where is [BC-1](order_id)' -> ('where is BC-1', [{entity, value, start, end}])."""
    plain, entities, cursor = "", [], 0
    for match in ENTITY_RE.finditer(text):
        plain += text[cursor:match.start()]
        start = len(plain)
        value = match.group("value")
        plain += value
        name = match.group("name")
        if name is None:
            try:
                name = json.loads("{" + match.group("json") + "}").get("entity")
            except ValueError:
                name = None
        entities.append({"entity": name, "value": value, "start": start, "end": len(plain)})
        cursor = match.end()
    return plain + text[cursor:], entities


def stories_to_conversations(path: Path) -> Dict[str, List[Event]]:
    """Test stories (YAML) as event lists, like the tracker store would hold them."""
    files = sorted(path.rglob("*.yml")) + sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    conversations: Dict[str, List[Event]] = {}
    for file in files:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for story in data.get("stories") or []:
            events: List[Event] = [{"event": "action", "name": "action_listen"}]
            for step in story.get("steps") or []:
                if "intent" in step or "user" in step:
                    if events[-1].get("name") != "action_listen" or events[-1].get("event") != "action":
                        events.append({"event": "action", "name": "action_listen"})
                    text, entities = parse_story_text(str(step.get("user") or f"/{step.get('intent')}").strip())
                    entities += [
                        {"entity": k, "value": v} for item in step.get("entities") or [] if isinstance(item, dict) for k, v in item.items()
                    ]
                    intent = step.get("intent")
                    events.append({
                        "event": "user", "text": text,
                        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": entities, "text": text},
                    })
                elif "action" in step:
                    events.append({"event": "action", "name": step["action"]})
                elif "active_loop" in step:
                    events.append({"event": "active_loop", "name": step["active_loop"]})
                elif "slot_was_set" in step:
                    for item in step["slot_was_set"] or []:
                        pairs = item.items() if isinstance(item, dict) else [(item, True)]
                        events += [{"event": "slot", "name": k, "value": v} for k, v in pairs]
            conversations[f"{file.name}: {story.get('story') or story.get('rule')}"] = events
    return conversations


# -- Rasa -----------------------------------------------------------------------------------------


class RasaServer:
    """A Rasa server with the given model on a free loopback port, for the replay only."""

    def __init__(self, model: Path, startup_timeout: float = 300.0) -> None:
        self.model = model.resolve()
        self.startup_timeout = startup_timeout
        self.process: Optional[subprocess.Popen] = None
        self.workdir = tempfile.mkdtemp(prefix="replay-rasa-")
        self.log_path = Path(self.workdir) / "rasa.log"
        from scripts.stack import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "RasaServer":
        # no endpoints file in the working directory: in-memory tracker store, no broker, no actions
        command = [*RASA_LAUNCH, "run", "--enable-api", "--port", str(self.port), "--interface", "127.0.0.1",
                   "--model", str(self.model)]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rasa exited ({self.process.returncode}); see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/status", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"rasa did not start within {self.startup_timeout:.0f}s; see {self.log_path}")

    def __exit__(self, *_exc: Any) -> None:
        if self.process and self.process.poll() is None:
            import signal

            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


class RasaClient:
    def __init__(self, url: str, token: str = "") -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=60, params={"token": token} if token else None)

    def status(self) -> Dict[str, Any]:
        return self.http.get("/status").raise_for_status().json()

    def parse(self, text: str) -> Dict[str, Any]:
        return self.http.post("/model/parse", json={"text": text}).raise_for_status().json()

    def predict(self, events: List[Event]) -> Dict[str, Any]:
        response = self.http.post("/model/predict", json=events, params={"include_events": "NONE"})
        response.raise_for_status()
        result = response.json()
        best = max(result["scores"], key=lambda s: s["score"])
        return {"action": best["action"], "confidence": best["score"], "policy": result.get("policy")}


# -- escalation rules ------------------------------------------------------------------------------


def rule_evaluator(rules_file: Optional[Path]) -> Optional[Any]:
    """fn(events up to a customer message) -> rule name, from the action server's own triage code."""
    try:
        from rasa_sdk import Tracker

        from actions import escalation, triage
    except ImportError:
        return None
    rules = escalation.load_rules(rules_file) if rules_file else escalation.get_rules()

    def evaluate(cid: str, events: List[Event]) -> Optional[str]:
        slots: Dict[str, Any] = {}
        latest: Dict[str, Any] = {}
        for event in events:
            if event.get("event") == "slot":
                slots[event["name"]] = event.get("value")
            elif event.get("event") == "user":
                latest = {**(event.get("parse_data") or {}), "text": event.get("text")}
        tracker = Tracker(cid, slots, latest, events, False, None, {}, events[-1].get("name") if events else None)
        result = triage.triage(tracker, rules=rules)
        return result.rule.name if getattr(result, "rule", None) else None

    return evaluate


# -- replay ----------------------------------------------------------------------------------------


def split_turns(events: List[Event]) -> Iterable[Tuple[int, List[Event], Event, List[Event]]]:
    """(turn number, events before the message, the message, the events of the turn) per message."""
    paused = False
    number = 0
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "pause":
            paused = True
        elif kind in ("resume", "restart", "session_started"):
            paused = False
        if kind != "user" or paused:
            continue
        number += 1
        end = index + 1
        while end < len(events) and events[end].get("event") != "user":
            end += 1
        yield number, events[:index], event, events[index + 1:end]


def active_loop(events: List[Event]) -> Optional[str]:
    for event in reversed(events):
        if event.get("event") == "active_loop":
            return event.get("name")
        if event.get("event") in ("restart", "session_started"):
            return None
    return None


def replay_conversation(
    client: RasaClient, cid: str, events: List[Event], result: ReplayResult, rules: Optional[Any] = None,
    parse_cache: Optional[Dict[str, Dict[str, Any]]] = None,
) -> None:
    result.conversations += 1
    parse_cache = {} if parse_cache is None else parse_cache
    for number, before, user, turn_events in split_turns(events):
        result.turns += 1
        text = user.get("text") or ""
        shown = mask(text)[:80]
        recorded_intent = ((user.get("parse_data") or {}).get("intent") or {}).get("name")
        if text and not text.startswith("/"):
            if text not in parse_cache:
                parse_cache[text] = client.parse(text)
            parsed = parse_cache[text].get("intent") or {}
            if parsed.get("name") != recorded_intent:
                result.differences.append(Difference(cid, number, "intent", recorded_intent, parsed.get("name"), shown,
                                                     f"confidence {parsed.get('confidence', 0):.2f}"))
        prefix = before + [user]
        recorded_handoff = replayed_handoff = False
        recorded_rule = None
        step = 0
        # the slots set before the first prediction (slot extraction, triage) belong to the message
        position = 0
        while position < len(turn_events) and turn_events[position].get("event") != "action":
            prefix.append(turn_events[position])
            position += 1
        if rules is not None and any(e.get("event") == "slot" and e.get("name") == "triage" for e in turn_events):
            recorded_rule = next((e.get("value") for e in turn_events if e.get("event") == "slot" and e.get("name") == "escalation_rule"), None)
            # the state triage saw: this turn's own triage results left out
            seen = before + [user] + [e for e in turn_events[:position] if not (e.get("event") == "slot" and e.get("name") in TRIAGE_SLOTS)]
            replayed_rule = rules(cid, seen)
            if (recorded_rule or None) != (replayed_rule or None):
                result.differences.append(Difference(cid, number, "rule", recorded_rule, replayed_rule, shown))
        for event in turn_events[position:]:
            if event.get("event") == "action" and event.get("name") not in NOT_PREDICTED - {"action_listen"}:
                step += 1
                result.actions += 1
                predicted = client.predict(prefix)
                loop = active_loop(prefix)
                if predicted["action"] != event.get("name") and loop and predicted["action"] == loop:
                    # the form may have rejected this message (a rejection leaves no event in a
                    # story): emulate it and predict again, as `rasa test` does
                    prefix.append({"event": "action_execution_rejected", "name": loop})
                    predicted = client.predict(prefix)
                if event.get("name") == HANDOFF_ACTION:
                    recorded_handoff = True
                if predicted["action"] == HANDOFF_ACTION:
                    replayed_handoff = True
                if predicted["action"] != event.get("name"):
                    result.differences.append(Difference(
                        cid, number, "action", event.get("name"), predicted["action"], shown,
                        f"step {step}, {predicted.get('policy')} {predicted.get('confidence', 0):.2f}",
                    ))
            prefix.append(event)
            if event.get("event") == "pause":
                break
        if recorded_handoff != replayed_handoff:
            result.differences.append(Difference(
                cid, number, "escalation", "handoff" if recorded_handoff else "no handoff",
                "handoff" if replayed_handoff else "no handoff", shown,
            ))


def format_result(result: ReplayResult) -> str:
    lines = []
    current = None
    for diff in result.differences:
        if (diff.conversation_id, diff.turn) != current:
            current = (diff.conversation_id, diff.turn)
            lines.append(f"\n{diff.conversation_id}  turn {diff.turn}: {diff.message!r}")
        lines.append(f"  {diff.kind:10} recorded {diff.recorded!s:32} replayed {diff.replayed!s:32} {diff.detail}")
    lines.append(
        f"\n{result.conversations} conversations, {result.turns} customer turns, {result.actions} actions replayed: "
        f"{result.count('intent')} intent, {result.count('action')} action, {result.count('escalation')} escalation, "
        f"{result.count('rule')} rule difference(s)"
    )
    return "\n".join(lines).lstrip("\n")


def run(
    conversations: Dict[str, List[Event]], rasa_url: str, rules_file: Optional[Path] = None, use_rules: bool = True,
) -> ReplayResult:
    client = RasaClient(rasa_url, os.environ.get("RASA_API_TOKEN", ""))
    rules = rule_evaluator(rules_file) if use_rules else None
    result = ReplayResult()
    cache: Dict[str, Dict[str, Any]] = {}
    for cid, events in conversations.items():
        replay_conversation(client, cid, events, result, rules, cache)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", type=Path, help="model archive to replay through (a Rasa server is started for it)")
    target.add_argument("--rasa-url", help="a running Rasa server (--enable-api) with the model to check")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-tracker-store", nargs="?", const="", metavar="DB",
                        help="Rasa's SQL tracker store: SQLite path or postgresql:// URL (default RASA_TRACKER_DB or var/rasa_tracker.db)")
    source.add_argument("--stories", type=Path, help="test stories file or folder")
    parser.add_argument("--conversation", action="append", help="only these conversation ids (repeatable)")
    parser.add_argument("--since")
    parser.add_argument("--until")
    parser.add_argument("--limit", type=int, help="at most this many conversations")
    parser.add_argument("--rules", type=Path, help="escalation rules file to check (default: the one in force)")
    parser.add_argument("--no-rules", action="store_true", help="do not re-evaluate escalation rules")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    if args.stories:
        conversations = stories_to_conversations(args.stories)
        use_rules = False  # stories carry no triage; handoff differences are still reported
    else:
        db = args.from_tracker_store or os.environ.get("RASA_TRACKER_DB") or str(PROJECT_ROOT / "var" / "rasa_tracker.db")
        conversations = read_tracker_store(db, args.conversation, parse_time(args.since), parse_time(args.until))
        ignore = tuple(AuditSettings.load().ignore_sender_prefixes)
        conversations = {cid: events for cid, events in conversations.items() if not cid.startswith(ignore)}
        use_rules = not args.no_rules
    if args.limit:
        conversations = dict(list(conversations.items())[: args.limit])
    if not conversations:
        print("no recorded conversations to replay", file=sys.stderr)
        return 2
    try:
        if args.model:
            if not args.model.exists():
                print(f"model {args.model} not found", file=sys.stderr)
                return 2
            with RasaServer(args.model) as server:
                result = run(conversations, server.url, args.rules, use_rules)
        else:
            result = run(conversations, args.rasa_url, args.rules, use_rules)
    except (httpx.HTTPError, RuntimeError) as error:
        print(f"replay failed: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**asdict(result), "summary": {k: result.count(k) for k in ("intent", "action", "escalation", "rule")}}, indent=2))
    else:
        print(safe(format_result(result)))
    return 1 if result.differences else 0


if __name__ == "__main__":
    sys.exit(main())
