"""rasa_addons.applied_events: the same applied events as Rasa's ``DialogueStateTracker.applied_events``.

Runs in Rasa's environment: every story, rule and test story of the project cut after each of its
actions, and the same conversations with reverts, restarts, session starts, rejected and
deactivated form runs inserted at random places; the same event objects in the same order, from
the remembered list too, and a caller changing its list changes nothing for the next one.
"""
from __future__ import annotations

from tests.performance.rasa_script import run_in_rasa_env

SCRIPT = r'''
import json, random
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import applied_events
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActionExecutionRejected, ActionReverted, ActiveLoop,
                                     Restarted, SessionStarted, UserUtteranceReverted, UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker
from tests.performance.rasa_stories import action_ends, project_story_events

rasa = applied_events._rasa_applied_events
domain = Domain.load("domain.yml")
story_events = project_story_events(domain)
forms = sorted(domain.form_names)
rng = random.Random(3)
def disturbed(events):
    events = list(events)
    for _ in range(rng.randint(1, 4)):
        where = rng.randint(0, len(events))
        extra = rng.choice([ActionReverted(), UserUtteranceReverted(), Restarted(), SessionStarted(),
                            ActionExecutionRejected(rng.choice(forms)), ActiveLoop(None), ActiveLoop(rng.choice(forms)),
                            ActionExecuted(rng.choice(forms)), UserUttered("again", {"name": "inform"})])
        events.insert(where, extra)
    return events
cuts = 0
for events in story_events + [disturbed(e) for e in story_events for _ in range(3)]:
    for end in action_ends(events) + [len(events)]:
        tracker = DialogueStateTracker.from_events("s", events[:end], domain.slots)
        expected = [id(e) for e in rasa(tracker)]
        assert [id(e) for e in applied_events.computed(list(tracker.events))] == expected, end
        first = tracker.applied_events()
        assert [id(e) for e in first] == expected, end
        first.clear()
        assert [id(e) for e in tracker.applied_events()] == expected  # remembered, handed out anew
        tracker.update(ActionExecuted("action_listen"))  # a new event: computed again
        assert [id(e) for e in tracker.applied_events()] == [id(e) for e in rasa(tracker)]
        cuts += 1
assert DialogueStateTracker("empty", domain.slots).applied_events() == []
print(json.dumps({"cuts": cuts}))
'''


def test_applied_events_are_rasas() -> None:
    result = run_in_rasa_env(SCRIPT, timeout=900)
    assert result["cuts"] >= 2000
