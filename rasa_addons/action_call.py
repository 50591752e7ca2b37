"""The body of every action-server call, without turning every event into JSON on every call.

Rasa sends the whole tracker, every event of the session, to the action server on each call
(``RemoteAction._action_call_format``: 2-4 calls a turn here, ~200 events by turn 20), and builds
each event's dict (``Event.as_dict``) and its JSON again every time: 7-8 % of Rasa's CPU under the
bench's 10-conversation load. Here each conversation's latest call is remembered (its events, their
dicts and their JSON, for the latest ``_SENT_CONVERSATIONS`` conversations); the next call takes
the events it shares with that one from it and writes only the others. The body is the rest of the
call written as before (``rasa_runtime.json_body``) with those events spliced in. Nothing is
stored on Rasa's event objects.

The body is the same JSON value as Rasa's, and the dict ``_action_call_format`` returns has the
same content as Rasa's (its ``tracker.events`` are the events' dicts), so anything that reads it
sees what Rasa built; only the serialiser (``json_body``, the kept session's ``json_serialize``)
takes the prepared text, and only while the events in the dict are the ones it was prepared from.

When is a remembered dict still the event's dict? Rasa does not change an event in place once it
exists, except by setting two attributes anew when the event enters a tracker: ``metadata`` (the
model and assistant ids) and ``timestamp`` (``update_with_events``). So an event taken from the
previous call must be the same object with the same ``metadata`` and ``timestamp`` objects, at the
same place. (The two-stage fallback's revert edits a deep copy of a user event; and
``DefinePrevUserUtteredFeaturization`` sets an attribute ``as_dict`` does not write.)
"""
from __future__ import annotations

import dataclasses
import operator
import uuid
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from rasa_addons.continuation import common_prefix, remember

#: stands for the events while the rest of the body is written; random per process, and the
#: splice checks that it is exactly where the events go (the very end of the body)
_EVENTS_TOKEN = f"rasa-addons-events-{uuid.uuid4().hex}"

#: conversations whose latest call is remembered (least recently called dropped first)
_SENT_CONVERSATIONS = 128
_latest_sent: "OrderedDict[Text, _Sent]" = OrderedDict()

_rasa_action_call_format: Any = None
_dumps: Callable[[Any], Text] = None  # type: ignore[assignment]  # set by install()
_installed = False


class ActionCallBody(dict):
    """Rasa's action-call body, with the JSON of its tracker's events prepared for the serialiser."""

    def __init__(self, content: Dict[Text, Any], events: List[Dict[Text, Any]], events_json: Text) -> None:
        super().__init__(content)
        self.events = events
        self.events_json = events_json


class _Sent:
    """What the latest action call of one conversation sent: its events and their JSON."""

    __slots__ = ("keys", "kept", "dicts", "texts")

    def __init__(self, keys: List[Tuple[int, int, int]], kept: Tuple[Any, ...], dicts: List[Dict[Text, Any]],
                 texts: List[Text]) -> None:
        self.keys = keys
        self.kept = kept
        self.dicts = dicts
        self.texts = texts


_metadata_of = operator.attrgetter("metadata")
_timestamp_of = operator.attrgetter("timestamp")


def _keys(events: List[Any]) -> Tuple[List[Tuple[int, int, int]], Tuple[Any, ...]]:
    """Per event: its identity and that of its ``metadata`` and ``timestamp``, the two attributes
    Rasa sets anew on an event it has already created (when the event enters a tracker), and the
    objects themselves, kept so that their ids are not reused. Computed in C (map/zip)."""
    metadata = list(map(_metadata_of, events))
    timestamps = list(map(_timestamp_of, events))
    keys = list(zip(map(id, events), map(id, metadata), map(id, timestamps)))
    return keys, (events, metadata, timestamps)


def events_dicts_and_json(sender_id: Text, events: Any, dumps: Callable[[Any], Text]) -> Tuple[List[Dict[Text, Any]], Text]:
    """The events' dicts and the JSON array of them.

    The events this conversation's previous call sent, in the same order and with the same
    ``metadata`` and ``timestamp``, are taken from that call as they are; the others are written."""
    events = list(events)
    keys, kept = _keys(events)
    sent = _latest_sent.get(sender_id)
    common = common_prefix(keys, sent.keys) if sent is not None else 0
    dicts = sent.dicts[:common] if common else []
    texts = sent.texts[:common] if common else []
    for event in events[common:]:
        as_dict = event.as_dict()
        dicts.append(as_dict)
        texts.append(dumps(as_dict))
    remember(_latest_sent, sender_id, _Sent(keys, kept, dicts, texts), _SENT_CONVERSATIONS)
    return list(dicts), "[" + ",".join(texts) + "]"


class _PreparedEvents:
    """The tracker as ``_action_call_format`` sees it: ``current_state`` with the kept event dicts."""

    def __init__(self, tracker: Any, dumps: Callable[[Any], Text]) -> None:
        self._tracker = tracker
        self._dumps = dumps
        self.prepared: Optional[Tuple[List[Dict[Text, Any]], Text]] = None

    def __getattr__(self, name: Text) -> Any:
        return getattr(self._tracker, name)

    def current_state(self, event_verbosity: Any = None) -> Dict[Text, Any]:
        """``DialogueStateTracker.current_state``: the same content, with the prepared events,
        and the active loop's fields taken as they are instead of deep-copied
        (``dataclasses.asdict``, 0.7 % of Rasa's CPU): the body is only written, never changed."""
        from rasa.shared.core.constants import ACTIVE_LOOP, FOLLOWUP_ACTION
        from rasa.shared.core.trackers import EventVerbosity

        tracker = self._tracker
        loop = tracker.active_loop
        if event_verbosity != EventVerbosity.ALL or (loop is not None and type(loop) is not _active_loop_type()):
            return tracker.current_state(event_verbosity)
        events, text = events_dicts_and_json(tracker.sender_id, tracker.events, self._dumps)
        self.prepared = (events, text)
        return {
            "sender_id": tracker.sender_id,
            "slots": tracker.current_slot_values(),
            "latest_message": tracker._latest_message_data(),
            "latest_event_time": tracker.events[-1].timestamp if len(tracker.events) > 0 else None,
            FOLLOWUP_ACTION: tracker.followup_action,
            "paused": tracker.is_paused(),
            "events": events,
            "latest_input_channel": tracker.get_latest_input_channel(),
            ACTIVE_LOOP: {field.name: getattr(loop, field.name) for field in dataclasses.fields(loop)} if loop else {},
            "latest_action": tracker.latest_action,
            "latest_action_name": tracker.latest_action_name,
        }


def _active_loop_type() -> Any:
    from rasa.shared.core.trackers import TrackerActiveLoop

    return TrackerActiveLoop


def action_call_format(self: Any, tracker: Any, domain: Any) -> Dict[Text, Any]:
    """``RemoteAction._action_call_format`` whose result carries its events' JSON."""
    view = _PreparedEvents(tracker, _dumps)
    result = _rasa_action_call_format(self, view, domain)
    if view.prepared is None:
        return result
    return ActionCallBody(result, *view.prepared)


def spliced_body(value: ActionCallBody, dumps: Callable[[Any], Text]) -> Optional[Text]:
    """The JSON of ``value`` with its prepared events, or None when they are not its events."""
    state = value.get("tracker")
    if not isinstance(state, dict) or state.get("events") is not value.events:
        return None
    rest = {key: item for key, item in value.items() if key != "tracker"}
    tracker = {key: item for key, item in state.items() if key != "events"}
    tracker["events"] = _EVENTS_TOKEN
    rest["tracker"] = tracker  # last, so the events end the body
    text = dumps(rest)
    tail = f'"{_EVENTS_TOKEN}"}}}}'
    if not text.endswith(tail):
        return None
    return text[: -len(tail)] + value.events_json + "}}"


def install(dumps: Callable[[Any], Text]) -> None:
    """Replace ``RemoteAction._action_call_format``; ``dumps`` writes each event (idempotent)."""
    global _installed, _rasa_action_call_format, _dumps
    if _installed:
        return
    _dumps = dumps
    from rasa.core.actions.action import RemoteAction

    _rasa_action_call_format = RemoteAction._action_call_format
    RemoteAction._action_call_format = action_call_format
    _installed = True


__all__ = ["install", "events_dicts_and_json", "action_call_format", "spliced_body", "ActionCallBody"]
