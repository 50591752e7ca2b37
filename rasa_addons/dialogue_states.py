"""A conversation's dialogue states, continued from the previous prediction instead of from scratch.

Every prediction asks for the states of the whole (windowed) conversation
(``DialogueStateTracker.past_states`` -> ``Domain.states_for_tracker_history``): Rasa replays the
applied events into an empty tracker and builds a state before each action, each time from the
first event on (MemoizationPolicy and RulePolicy, after every action: ~9 % of Rasa's CPU under the
bench's 10-conversation load). Consecutive predictions of a conversation share almost all of
those events, so the replay is kept per conversation and argument set (a cursor) and continued
with the events that are new since.

A cursor is only continued where its events are exactly the start of the new applied events (the
same objects in the same order). Applied events are not only appended to: a form running again
removes the turns since its previous run, and reverts remove the latest turn. So the cursor also
keeps a snapshot of its replay (slot values and the fields events set) before each of its latest
actions (``_SNAPSHOTS``), and resumes from the latest snapshot at or before the first event that
differs; when there is none, it is built from scratch. The states are those of Rasa's ``states_for_tracker_history``, step by step (the same
domain methods in the same order); tests/performance/test_dialogue_states.py compares them with
Rasa's for every cut of every story, rule and test story, in order, shuffled and with forms.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_addons.continuation import common_prefix, remember

#: snapshots kept per cursor: a form's re-run removes the turn since its previous run (2-4 actions)
_SNAPSHOTS = 8
#: cursors kept (conversation x argument set: 2-3 per conversation); least recently used dropped first
_CURSORS = 192
#: what a replay tracker's events change besides its slots (DialogueStateTracker's event-set state)
_REPLAY_FIELDS = ("_paused", "followup_action", "latest_action", "latest_message", "latest_bot_utterance")


class _Cursor:
    """Rasa's ``states_for_tracker_history`` loop, stopped after the applied events in ``ids``."""

    __slots__ = ("domain", "events", "ids", "replay", "states", "last_ml", "hidden", "snapshots")

    def __init__(self, replay: Any, domain: Any) -> None:
        self.domain = domain
        self.events: List[Any] = []
        self.ids: List[int] = []
        self.replay = replay
        self.states: List[Dict[Text, Any]] = []
        self.last_ml: Optional[Dict[Text, Any]] = None
        self.hidden = False
        # (events consumed, replay state, states so far, last_ml, hidden), taken before an action
        self.snapshots: List[Tuple[int, Tuple[Any, ...], int, Optional[Dict[Text, Any]], bool]] = []


_cursors: "OrderedDict[Tuple[Any, ...], _Cursor]" = OrderedDict()
#: how each call started: from its cursor's end, from a snapshot, or from scratch
stats = {"continued": 0, "rewound": 0, "built": 0}


def _state_before_action(domain: Any, tracker: Any, hide_rule_turn: bool, states: List[Dict[Text, Any]],
                         last_ml: Optional[Dict[Text, Any]], hidden: bool, omit_unset_slots: bool,
                         ignore_rule_only_turns: bool, rule_only_data: Optional[Dict[Text, Any]]
                         ) -> Tuple[Optional[Dict[Text, Any]], bool]:
    """One step of ``Domain.states_for_tracker_history``: appends the state of ``tracker`` to
    ``states`` unless the turn is hidden; returns the loop's (last_ml, hidden) after it."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    if ignore_rule_only_turns:
        if not hidden:
            last_ml = domain._get_prev_action_sub_state(tracker)
        if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
            hidden = hide_rule_turn
        if hidden:
            return last_ml, hidden
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if last_ml:
            state[PREVIOUS_ACTION] = last_ml
    states.append(domain._clean_state(state))
    return last_ml, hidden


def _usable(tracker: Any, domain: Any) -> bool:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    return (type(tracker) is DialogueStateTracker and type(tracker.slots) is dict
            and type(domain).states_for_tracker_history is Domain.states_for_tracker_history
            and type(domain).get_active_state is Domain.get_active_state)


def past_states(tracker: Any, domain: Any, omit_unset_slots: bool, ignore_rule_only_turns: bool,
                rule_only_data: Optional[Dict[Text, Any]]) -> Optional[List[Dict[Text, Any]]]:
    """``domain.states_for_tracker_history(tracker, ...)``, continued from the conversation's
    cursor; None when this tracker or domain is not one it can continue (Rasa's code decides)."""
    from rasa.shared.core.events import ActionExecuted
    from rasa_addons.rasa_runtime import SLOT_DEFINITIONS_KEY, _same_slot_definitions

    if not _usable(tracker, domain):
        return None
    # cursors are keyed by domain and built only from trackers whose slots are the domain's slot
    # definitions; a tracker is checked once and its copies carry the answer (rasa_runtime's
    # tracker copy copies the slots), instead of comparing every slot on every call
    if tracker.__dict__.get(SLOT_DEFINITIONS_KEY) is not domain:
        if not _same_slot_definitions(domain.slots, tracker.slots):
            return None
        tracker.__dict__[SLOT_DEFINITIONS_KEY] = domain
    key = (tracker.sender_id, id(domain), tracker.is_rule_tracker, tracker._max_event_history,
           bool(omit_unset_slots), bool(ignore_rule_only_turns), json.dumps(rule_only_data, sort_keys=True))
    applied = tracker.applied_events()
    ids = list(map(id, applied))
    cursor = _cursors.get(key)
    if cursor is not None and cursor.domain is not domain:  # a new domain that reuses an old one's id
        cursor = None
    if cursor is not None:
        common = common_prefix(cursor.ids, ids)
        if common < len(cursor.ids):
            cursor = _rewound(cursor, common)
            if cursor is not None:
                stats["rewound"] += 1
        else:
            stats["continued"] += 1
    if cursor is None:
        stats["built"] += 1
        cursor = _Cursor(tracker.init_copy(), domain)
    remember(_cursors, key, cursor, _CURSORS)
    arguments = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    for event in applied[len(cursor.ids):]:
        if isinstance(event, ActionExecuted):
            cursor.snapshots.append((len(cursor.ids), _replay_state(cursor.replay), len(cursor.states),
                                     cursor.last_ml, cursor.hidden))
            del cursor.snapshots[:-_SNAPSHOTS]
            cursor.last_ml, cursor.hidden = _state_before_action(domain, cursor.replay, event.hide_rule_turn,
                                                                 cursor.states, cursor.last_ml, cursor.hidden,
                                                                 *arguments)
        cursor.replay.update(event)
        cursor.events.append(event)
        cursor.ids.append(id(event))
    states = list(cursor.states)
    # the state after the latest event, as the generator's last step; the cursor stays before it
    _state_before_action(domain, cursor.replay, False, states, cursor.last_ml, cursor.hidden, *arguments)
    return states


def _replay_state(replay: Any) -> Tuple[Any, ...]:
    """What the replay's events have set: slot values (shared, as a tracker copy shares them), the
    fields the events set anew, and a copy of the active loop (changed in place by some events).
    Much smaller than a copy of the tracker (no slot objects)."""
    import copy

    slots = tuple((slot._value, slot._has_been_set) for slot in replay.slots.values())
    return slots, tuple(getattr(replay, name) for name in _REPLAY_FIELDS), copy.copy(replay.active_loop)


def _restored(replay: Any, state: Tuple[Any, ...], events: List[Any]) -> Any:
    """A copy of ``replay`` set back to ``state``, with ``events`` as its events."""
    import copy

    slots, fields, active_loop = state
    restored = replay.copy()
    for slot, (value, has_been_set) in zip(restored.slots.values(), slots):
        slot._value, slot._has_been_set = value, has_been_set
    for name, value in zip(_REPLAY_FIELDS, fields):
        setattr(restored, name, value)
    restored.active_loop = copy.copy(active_loop)
    restored.events = restored._create_events(list(events))
    return restored


def _rewound(cursor: _Cursor, common: int) -> Optional[_Cursor]:
    """The cursor as it was before its latest snapshot at or before event ``common``, or None."""
    for index in range(len(cursor.snapshots) - 1, -1, -1):
        consumed, state, n_states, last_ml, hidden = cursor.snapshots[index]
        if consumed <= common:
            rewound = _Cursor(_restored(cursor.replay, state, cursor.events[:consumed]), cursor.domain)
            rewound.events = cursor.events[:consumed]
            rewound.ids = cursor.ids[:consumed]
            rewound.states = cursor.states[:n_states]
            rewound.last_ml, rewound.hidden = last_ml, hidden
            rewound.snapshots = cursor.snapshots[:index]  # this one is taken again when resumed
            return rewound
    return None


__all__ = ["past_states"]
