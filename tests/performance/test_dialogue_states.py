"""rasa_addons.dialogue_states: a conversation's states continued from its previous prediction
equal Rasa's ``states_for_tracker_history`` built from scratch.

Runs in Rasa's environment with the project's domain: every story, rule and test story cut after
each of its actions, first in order (each cut continues the previous one's cursor, forms rewind
it), then all cuts of all stories shuffled under one conversation id (cursors rewound or rebuilt),
for the four argument sets the policies use; ``past_states`` (the memo on top) hands out copies
that callers may change; a tracker whose slots are not the domain's definitions is left to Rasa's
code, and the check's answer travels with a tracker's copies. Also checks that the fast paths
really ran.
"""
from __future__ import annotations

from tests.performance.rasa_script import run_in_rasa_env

SCRIPT = r'''
import json, random
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import dialogue_states, rasa_runtime
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from tests.performance.rasa_stories import action_ends, project_story_events

domain = Domain.load("domain.yml")
story_events = project_story_events(domain)
rule_only = {"slots": ["flow_blocked", "requested_slot"], "loops": ["order_status_form"]}
argument_sets = [(False, False, None), (True, False, None), (False, True, rule_only), (True, True, {"slots": [], "loops": []})]

def check(tracker):
    for omit, ignore, data in argument_sets:
        expected = domain.states_for_tracker_history(tracker, omit, ignore, data)
        mine = dialogue_states.past_states(tracker, domain, omit, ignore, data)
        assert mine == expected, (len(tracker.events), omit, ignore)

cuts = []
for number, events in enumerate(story_events):
    for end in action_ends(events):
        tracker = DialogueStateTracker.from_events(f"story-{number}", events[:end], domain.slots)
        check(tracker)
        cuts.append(tracker)
in_order = dict(dialogue_states.stats)
random.Random(7).shuffle(cuts)
for tracker in cuts[:300]:
    tracker.sender_id = "one-conversation"
    check(tracker)
# the memo on top hands out copies: a caller changing its states changes nothing for the next one
tracker = cuts[0]
first = tracker.past_states(domain)
first[-1].clear()
first.append({})
assert tracker.past_states(domain) == domain.states_for_tracker_history(tracker)
second = DialogueStateTracker.from_events("fresh", list(tracker.events), domain.slots)
states = second.past_states(domain)
for state in states:
    for sub in state.values():
        sub.clear()
assert second.past_states(domain) == domain.states_for_tracker_history(second)
# slot definitions: checked once per tracker, carried by its copies; other definitions are Rasa's to compute
import copy
marked = DialogueStateTracker.from_events("marked", list(cuts[1].events), domain.slots)
assert dialogue_states.past_states(marked, domain, False, False, None) is not None
assert marked.__dict__[rasa_runtime.SLOT_DEFINITIONS_KEY] is domain
assert marked.copy().__dict__[rasa_runtime.SLOT_DEFINITIONS_KEY] is domain
other_slots = [copy.copy(slot) for slot in domain.slots]
other_slots[0].initial_value = "something else"
other = DialogueStateTracker.from_events("marked", list(cuts[1].events), other_slots)
assert dialogue_states.past_states(other, domain, False, False, None) is None
assert rasa_runtime.SLOT_DEFINITIONS_KEY not in other.__dict__
assert other.past_states(domain) == domain.states_for_tracker_history(other)
print(json.dumps({"cuts": len(cuts), "in_order": in_order, "all": dialogue_states.stats}))
'''


def test_continued_states_are_rasas() -> None:
    result = run_in_rasa_env(SCRIPT, timeout=900)
    assert result["cuts"] >= 500
    in_order = result["in_order"]
    assert in_order["continued"] > 3 * in_order["built"], in_order  # cursors really continue
    assert in_order["rewound"] > 0, in_order  # forms rewrite applied events; snapshots used
    assert result["all"]["built"] > in_order["built"], result  # shuffled cuts do rebuild
