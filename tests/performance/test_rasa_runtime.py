"""rasa_addons.rasa_runtime: the cheaper equivalents of eight Rasa internals compute what Rasa does.

Runs in Rasa's environment against the trained model: every event name resolves to the same class
(and unknown names fail the same way), every slot of the domain copies to an equal, independent
slot, a tracker's copy equals the replayed copy, its remembered past states equal Rasa's and slot
extraction's continued tracker equals Rasa's ``from_events`` for every story, rule and test story
cut after each action, ``Domain.is_empty`` answers as Rasa's, requests to an endpoint reuse one
connection with the same headers, the same JSON values in their bodies, answers and errors, and
the prediction graph gives the same parses and the same next-action predictions with and without
dask, while the fast path really runs without dask.
"""
from __future__ import annotations

from tests.performance.rasa_script import ROOT, run_in_rasa_env

SCRIPT = r'''
import asyncio, copy, json, sys
from rasa.shared.core.events import Event, UserUttered, ActionExecuted, SlotSet
from rasa.shared.utils.common import all_subclasses
from rasa.shared.core.slots import Slot
original_resolve = Event.resolve_by_type
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import rasa_runtime
assert Event.resolve_by_type is not original_resolve
out = {}

# event names: twice each, so the remembered answer is checked too
names = sorted({cls.type_name for cls in all_subclasses(Event)})
out["names"] = len(names)
for _ in range(2):
    for name in names:
        assert Event.resolve_by_type(name) is original_resolve(name), name
assert Event.resolve_by_type("topic") is None and original_resolve("topic") is None
assert Event.resolve_by_type("no_such", default=SlotSet) is SlotSet
for resolve in (original_resolve, Event.resolve_by_type):
    try:
        resolve("no_such")
        raise SystemExit("unknown event name accepted")
    except ValueError as error:
        assert "no_such" in str(error)

# slots: the project's domain, every slot type it uses
from rasa.shared.core.domain import Domain
domain = Domain.load("domain.yml")
out["slots"] = len(domain.slots)
for slot in domain.slots:
    duplicate = copy.copy(slot)
    reference = copy._reconstruct(slot, None, *slot.__reduce_ex__(4))
    assert type(duplicate) is type(slot) is type(reference) and duplicate is not slot
    assert duplicate.__dict__ == reference.__dict__ == slot.__dict__, slot.name
    duplicate.value = "changed"
    assert slot.value != "changed", slot.name
    assert duplicate.__dict__ is not slot.__dict__
# a slot class with its own __new__ gets it called, as copy.copy does
from rasa.shared.core.slots import TextSlot
class CountedSlot(TextSlot):
    made = 0
    def __new__(cls, *args, **kwargs):
        cls.made += 1
        return super().__new__(cls)
counted = CountedSlot("counted", mappings=[])
before = CountedSlot.made
duplicate = copy.copy(counted)
assert CountedSlot.made == before + 1 and type(duplicate) is CountedSlot
assert duplicate.__dict__ == counted.__dict__ and duplicate.__dict__ is not counted.__dict__

# trackers: every story, rule and test story of the project, cut after each of its actions
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.core.events import LoopInterrupted
from tests.performance.rasa_stories import action_ends, project_story_events, serve
story_events = project_story_events(domain)  # plus one long conversation
def snapshot(tracker):
    state = dict(vars(tracker))
    for remembered in ("_rasa_addons_states", "_rasa_addons_applied", "_rasa_addons_slot_definitions"):
        state.pop(remembered, None)
    state["events"] = [id(e) for e in tracker.events]
    state["maxlen"] = tracker.events.maxlen
    state["slots"] = {name: (type(slot), slot.__dict__) for name, slot in tracker.slots.items()}
    return state
rule_only = {"slots": ["flow_blocked", "requested_slot"], "loops": ["order_status_form"]}
argument_sets = [dict(), dict(omit_unset_slots=True), dict(ignore_rule_only_turns=True, rule_only_data=rule_only),
                 dict(ignore_rule_only_turns=True, rule_only_data={"slots": [], "loops": []})]
cuts = 0
forms_checked = 0
from rasa.core.actions.forms import FormAction
other_slots = [copy.copy(slot) for slot in domain.slots]
other_slots[0].initial_value = "something else"
for events in story_events:
    for end in action_ends(events):
        tracker = DialogueStateTracker.from_events("s", events[:end], domain.slots)
        replayed = rasa_runtime._replay_copy(tracker)
        fast = tracker.copy()
        assert snapshot(fast) == snapshot(replayed), (end, snapshot(fast), snapshot(replayed))
        for name in fast.slots:  # independent slots and loop
            fast.slots[name].value = "changed"
            assert tracker.slots[name].value != "changed"
        interrupted = tracker.active_loop.is_interrupted if tracker.active_loop else None
        fast.update(LoopInterrupted(True))
        assert (tracker.active_loop.is_interrupted if tracker.active_loop else None) == interrupted
        assert len(tracker.events) == end
        for arguments in argument_sets:
            expected = rasa_runtime._rasa_past_states(tracker, domain, **arguments)
            first = tracker.past_states(domain, **arguments)
            assert first == expected, (end, arguments)
            first[-1].clear()  # callers change what they get; the next caller must not see it
            first.append({})
            assert tracker.past_states(domain, **arguments) == expected, (end, arguments)
        # slot extraction's rebuild: the extracted-from tracker continued, or Rasa's replay
        extra = [SlotSet("order_id", "BC-100001"), SlotSet("customer_email", None)]
        expected = snapshot(rasa_runtime._rasa_from_events.__func__(DialogueStateTracker, "s", list(tracker.events) + extra, domain.slots))
        token = rasa_runtime._rebuild_source.set((tracker, True))
        continued = DialogueStateTracker.from_events("s", list(tracker.events) + extra, domain.slots)
        assert snapshot(continued) == expected, end
        # no candidates: the tracker itself, in the state Rasa's rebuild has
        same = DialogueStateTracker.from_events("s", list(tracker.events), domain.slots)
        rebuilt = rasa_runtime._rasa_from_events.__func__(DialogueStateTracker, "s", list(tracker.events), domain.slots)
        assert same is tracker and same.current_state(EventVerbosity.ALL) == rebuilt.current_state(EventVerbosity.ALL), end
        assert rasa_runtime._continued_copy(tracker, "s", list(tracker.events)[1:], domain.slots, None) is None
        assert rasa_runtime._continued_copy(tracker, "other", list(tracker.events), domain.slots, None) is None
        assert rasa_runtime._continued_copy(tracker, "s", list(tracker.events), other_slots, None) is None
        rasa_runtime._rebuild_source.reset(token)
        # a form's temporary tracker: the conversation continued with the form's events, a copy
        form = FormAction("order_status_form", None)
        before = tracker.current_state(EventVerbosity.ALL)
        temporary = form._temporary_tracker(tracker, extra, domain)
        # Rasa's replay of the very events the form put together (its own SlotSet and
        # ActionExecuted are stamped when made)
        assert list(temporary.events)[:len(tracker.events)] == list(tracker.events)
        assert [type(e).__name__ for e in list(temporary.events)[len(tracker.events):]] == ["SlotSet", "ActionExecuted", "SlotSet", "SlotSet"]
        expected = snapshot(rasa_runtime._rasa_from_events.__func__(DialogueStateTracker, "s", list(temporary.events), domain.slots))
        assert temporary is not tracker and snapshot(temporary) == expected, end
        assert tracker.current_state(EventVerbosity.ALL) == before
        forms_checked += 1
        tracker.update(ActionExecuted("utter_greet"))  # a new event: computed again
        assert tracker.past_states(domain) == rasa_runtime._rasa_past_states(tracker, domain)
        cuts += 1
out["tracker_cuts"] = cuts
out["form_trackers"] = forms_checked
# and inside Rasa's slot extraction the rebuild really continues the tracker
from rasa.core.actions.action import ActionExtractSlots
seen_sources = []
async def fake_run_custom_action(self, name, output_channel, nlg, rebuilt, domain):
    seen_sources.append((rasa_runtime._rebuild_source.get(), rebuilt))
    return []
ActionExtractSlots._run_custom_action = fake_run_custom_action
base = DialogueStateTracker.from_events("s", story_events[0], domain.slots)
replay = rasa_runtime._rasa_from_events
def no_replay(*args, **kwargs):
    raise AssertionError("slot extraction replayed the conversation")
rasa_runtime._rasa_from_events = classmethod(no_replay)
asyncio.run(ActionExtractSlots(None)._execute_validation_action([SlotSet("order_id", "BC-100002")], None, None, base, domain))
before = base.current_state(EventVerbosity.ALL)
asyncio.run(ActionExtractSlots(None)._execute_validation_action([], None, None, base, domain))
FormAction("order_status_form", None)._temporary_tracker(base, [SlotSet("order_id", "BC-100003")], domain)  # no replay either
rasa_runtime._rasa_from_events = replay
assert seen_sources and seen_sources[0][0][0] is base and seen_sources[0][1].get_slot("order_id") == "BC-100002"
assert len(seen_sources) == 2 and seen_sources[1][1] is base
assert base.current_state(EventVerbosity.ALL) == before  # read, never changed
assert rasa_runtime._rebuild_source.get() is None
assert Domain.empty().is_empty() and not domain.is_empty()

# the action endpoint: kept connections, same requests and errors
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig, ClientResponseError
seen = []
async def handler(request):
    seen.append((request.transport.get_extra_info("peername")[1], request.headers.get("X-Test"), await request.json()))
    if request.path.endswith("/fail"):
        return web.json_response({"error": "no"}, status=500)
    return web.json_response({"n": len(seen)})
async def endpoint_checks():
    runner, port = await serve("/{tail:.*}", handler)
    first = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Test": "a"})
    answers = [await first.request(json={"i": i}, method="post") for i in range(5)]
    other = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Test": "b"})
    answers.append(await other.request(json={"i": 5}, method="post"))
    try:
        await first.request(subpath="fail", json={"i": 6}, method="post")
        raise SystemExit("HTTP 500 not raised")
    except ClientResponseError as error:
        assert error.status == 500
    rich = {"text": "h\u00e9llo / \u2713 \"quoted\"", "f": 0.1 + 0.2, "tiny": 1e-300, "neg": -0.0, "big": 2 ** 70,
            "nested": [1, {"k": None, "b": True, "e": []}], 3: "int key"}
    before = len(seen)
    await first.request(json=rich, method="post")
    assert seen[before][2] == json.loads(json.dumps(rich)), seen[before][2]
    sessions = [s for s in rasa_runtime._sessions.values() if not s.closed]
    assert sessions and all(s.json_serialize is rasa_runtime.json_body for s in sessions)
    del seen[before:]
    await runner.cleanup()
    return answers
answers = asyncio.run(endpoint_checks())
assert [a["n"] for a in answers] == [1, 2, 3, 4, 5, 6], answers
assert [body["i"] for _, _, body in seen] == list(range(7))
assert [h for _, h, _ in seen] == ["a"] * 5 + ["b", "a"]
assert len({port for port, h, _ in seen if h == "a"}) == 1, "requests did not share one connection"
out["kept_connections"] = len({port for port, _, _ in seen})
# request bodies: the same JSON values as json.dumps, and json.dumps's errors for what it refuses
# (bytes as dict keys, which json.dumps refuses and ujson writes as strings, is the one documented
# difference: nothing Rasa sends has them)
for value in [{"nan": float("nan")}, {"o": object()}, {"s": b"x"}, {"big": 2 ** 70}, [float("inf")]]:
    try:
        expected = json.dumps(value)
    except TypeError as error:
        try:
            rasa_runtime.json_body(value)
            raise SystemExit(f"{value!r} encoded")
        except TypeError as mine:
            assert str(mine) == str(error)
    else:
        assert json.dumps(json.loads(rasa_runtime.json_body(value))) == expected, value  # same values

# the prediction graph with and without dask
from rasa.core.agent import load_agent
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
import dask
agent = asyncio.run(load_agent(model_path=sys.argv[1]))
texts = ["hi", "where is my order BC-100002", "I want to cancel my membership", "you are useless, get me a human",
         "how much does premium cost?", "asdfgh", "my card was charged twice", "delete my account and all my data",
         "thanks, bye", "can I change the shipping address on BC-100001? I moved"]

def run_all():
    parses, predictions = [], []
    for text in texts:
        parse = asyncio.run(agent.parse_message(text))
        parses.append(parse)
        tracker = DialogueStateTracker.from_events("t", [ActionExecuted("action_listen"),
                                                         UserUttered(text, parse_data=parse)], domain.slots)
        prediction = agent.processor._predict_next_with_tracker(tracker)
        predictions.append([prediction.policy_name, [round(p, 12) for p in prediction.probabilities],
                            prediction.is_no_user_prediction])
    return json.loads(json.dumps([parses, predictions], default=str))

fast = DaskGraphRunner.run
DaskGraphRunner.run = rasa_runtime._dask_run
with_dask = run_all()
DaskGraphRunner.run = fast
real_get = dask.get
def no_dask(*args, **kwargs):
    raise AssertionError("dask.get was called on the fast path")
dask.get = no_dask
without = run_all()
dask.get = real_get
assert with_dask == without, "graph results differ"
out["parses"] = len(without[0])
out["intents"] = sorted({p["intent"]["name"] for p in without[0]})
print(json.dumps(out))
'''


def test_rasa_runtime_replacements_compute_what_rasa_does() -> None:
    from tests.conftest import latest_model  # RASA_MODEL, else the newest in models/

    model = latest_model()
    result = run_in_rasa_env(SCRIPT, str(model), timeout=600)
    assert result["names"] >= 20 and result["slots"] >= 20 and result["parses"] == 10
    assert len(result["intents"]) >= 6, result["intents"]
    assert result["kept_connections"] == 2  # one per endpoint (its headers differ)
    assert result["tracker_cuts"] >= 500 and result["form_trackers"] == result["tracker_cuts"]
