"""``DialogueStateTracker.applied_events`` with each event's kind looked up by its class.

Rasa's ``applied_events`` (the events left after reverts, restarts and a form's re-runs) asks
``isinstance`` five to eight times per event; ``Event`` is an ABC, so each check goes through
``ABCMeta.__instancecheck__`` (~0.35 us), and a form's actions scan back through the conversation
again. Every prediction needs it (``past_states``): 0.6 ms for 140 events, two thirds of a
continued ``past_states``. Here the same algorithm runs with the answers to those ``isinstance``
questions computed once per event class (an event's class never changes, and nothing registers
virtual subclasses of Rasa's events), and the result is remembered for the tracker's current
events (their number, first and latest), handed out as a new list each time as Rasa's is.
tests/performance/test_applied_events.py compares it with Rasa's on every cut of every story,
rule and test story, and on sequences with reverts, restarts and rejected form runs.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

_rasa_applied_events: Any = None
_installed = False

# kinds of event, as bits
_RESET, _ACTION_REVERTED, _UTTERANCE_REVERTED, _ACTION, _USER, _LOOP, _REJECTED, _FEATURIZATION = (
    1 << i for i in range(8))
_kinds: Dict[type, int] = {}


def _kind(cls: type) -> int:
    kind = _kinds.get(cls)
    if kind is None:
        from rasa.shared.core.events import (ActionExecuted, ActionExecutionRejected, ActionReverted, ActiveLoop,
                                             DefinePrevUserUtteredFeaturization, Restarted, SessionStarted,
                                             UserUttered, UserUtteranceReverted)

        kind = 0
        for bit, classes in ((_RESET, (Restarted, SessionStarted)), (_ACTION_REVERTED, ActionReverted),
                             (_UTTERANCE_REVERTED, UserUtteranceReverted), (_ACTION, ActionExecuted),
                             (_USER, UserUttered), (_LOOP, ActiveLoop), (_REJECTED, ActionExecutionRejected),
                             (_FEATURIZATION, DefinePrevUserUtteredFeaturization)):
            if issubclass(cls, classes):
                kind |= bit
        _kinds[cls] = kind
    return kind


def _undo_till_previous(bit: int, done: List[Any], kinds: List[int]) -> None:
    while done:
        done.pop()
        if kinds.pop() & bit:
            break


def _first_loop_execution_or_unhappy_path(loop_action_name: Text, done: List[Any], kinds: List[int]) -> bool:
    next_action: Optional[Text] = None
    for index in range(len(done) - 1, -1, -1):
        event, kind = done[index], kinds[index]
        if kind & _LOOP and event.name is None:
            return True
        if kind & _REJECTED and event.action_name == loop_action_name:
            return True
        if kind & _USER and next_action is not None and next_action != loop_action_name:
            return True
        if kind & _ACTION:
            if event.action_name == loop_action_name:
                return False
            next_action = event.action_name
    return True


def _undo_till_previous_loop_execution(loop_action_name: Text, done: List[Any], kinds: List[int]) -> None:
    offset = 0
    for index in range(len(done) - 1, -1, -1):
        event, kind = done[index], kinds[index]
        if kind & _ACTION and event.action_name == loop_action_name:
            break
        if kind & (_ACTION | _USER | _FEATURIZATION):
            del done[-1 - offset]
            del kinds[-1 - offset]
        else:
            offset += 1


def computed(events: Any) -> List[Any]:
    """Rasa's ``applied_events`` algorithm over ``events``, with kinds by class."""
    kinds_of = [_kind(type(event)) for event in events]
    loop_names = {event.name for event, kind in zip(events, kinds_of) if kind & _LOOP and event.name}
    done: List[Any] = []
    kinds: List[int] = []
    for event, kind in zip(events, kinds_of):
        if kind & _RESET:
            done, kinds = [], []
        elif kind & _ACTION_REVERTED:
            _undo_till_previous(_ACTION, done, kinds)
        elif kind & _UTTERANCE_REVERTED:
            _undo_till_previous(_USER, done, kinds)
            _undo_till_previous(_ACTION, done, kinds)
        elif (kind & _ACTION and event.action_name in loop_names
              and not _first_loop_execution_or_unhappy_path(event.action_name, done, kinds)):
            _undo_till_previous_loop_execution(event.action_name, done, kinds)
        else:
            done.append(event)
            kinds.append(kind)
    return done


def applied_events(self: Any) -> List[Any]:
    """``DialogueStateTracker.applied_events``: the same list, remembered for the current events."""
    events = self.events
    if not events:
        return []
    key: Tuple[int, int, int] = (len(events), id(events[0]), id(events[-1]))
    memo = self.__dict__.get("_rasa_addons_applied")
    if memo is None or memo[0] != key or memo[1] is not events[0] or memo[2] is not events[-1]:
        memo = self.__dict__["_rasa_addons_applied"] = (key, events[0], events[-1], computed(list(events)))
    return list(memo[3])


def install() -> None:
    """Replace ``DialogueStateTracker.applied_events`` for Rasa's own tracker class (idempotent)."""
    global _installed, _rasa_applied_events
    if _installed:
        return
    from rasa.shared.core.trackers import DialogueStateTracker

    _rasa_applied_events = DialogueStateTracker.applied_events
    DialogueStateTracker.applied_events = applied_events
    _installed = True


__all__ = ["install", "applied_events", "computed"]
