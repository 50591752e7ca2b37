"""Eight of Rasa 3.6's per-turn costs, removed without changing what Rasa computes or sends.

Found with cProfile on the Rasa server under the bench's 10-conversation load (docs/performance.md);
each replacement returns exactly what the original returns, and
tests/performance/test_rasa_runtime.py runs both side by side:

- ``Event.resolve_by_type`` walked every subclass of ``Event`` (recursively, checking each for
  abstract methods) to find the class of one event name, each time an event was deserialised:
  about 20 times a turn (answers of the action server, the tracker cache). The class found for a
  name is now remembered; a name that is not found still goes through Rasa's code, which raises
  or returns the default as before. Classes are only ever added by imports, never removed, so a
  remembered answer cannot go stale.
- ``copy.copy`` of every slot whenever a tracker is created (``DialogueStateTracker.__init__``):
  Rasa creates a tracker for every prior state of every prediction (``generate_all_prior_trackers``),
  so a turn copied thousands of slots through ``copy``'s generic ``__reduce_ex__`` path. Slots
  get a ``__copy__`` that does what that path does for them (a new instance of the same class with
  the same ``__dict__``).
- The graph runner ran each prediction and each parse through ``dask.get``, which schedules the
  (small, fixed) graph from scratch every call, and rebuilt the graph's minimal schema for the
  targets every call. The schema is now built once per set of targets and the graph is evaluated
  depth first, each node once with the outputs of the nodes it needs, as dask's synchronous
  scheduler does. A node's exception propagates unchanged, as ``dask.get`` re-raises it, and a
  ``RuntimeError`` still becomes Rasa's ``GraphRunError``.

- Every call to the action server (``EndpointConfig.request``, 2-4 a turn here) opened a new
  ``aiohttp.ClientSession``, so a new TCP connection, and closed it again; both servers paid for
  the connection set-up and tear-down each time. Sessions are now kept, one per event loop and
  endpoint (URL, headers, basic auth), and ``request`` uses them as before: same headers, same
  timeout, same JSON body (written by ujson when it can, 2-3x faster than json.dumps for the ~50 kB
  tracker: ``json_body``), same errors. Kept connections idle out after aiohttp's 15 s, well inside the
  action server's keep-alive (Sanic's 120 s), so the server never closes one under a request.

- ``DialogueStateTracker.copy`` (before every action Rasa runs, and when a form activates) built
  an empty tracker and replayed every event into it. A tracker's state is exactly what its events
  produced, so the copy now takes that state directly: the same events (the same objects, as the
  replay shares them), a copy of every slot, of the active loop and of the latest action, and the
  attributes ``init_copy`` resets (``model_id``, ``assistant_id``, ``sender_source``) left unset
  as there (and dialogue_states' note that the slots are the domain's definitions, which the
  copied slots keep). Subclasses and trackers without the domain's slots keep Rasa's replay.
- ``DialogueStateTracker.past_states`` is computed from scratch by every policy for every
  prediction; RulePolicy asks twice right after a customer message (once for the text, once for
  the intent) with the same arguments. The states are remembered on the tracker for its current
  events (their number and the latest one), the domain and the arguments, and each caller gets
  its own copy, as callers change them (``_choose_last_user_input`` removes keys). Any new event
  changes the key; Rasa changes a tracker's state only through events. What is not remembered is
  computed by rasa_addons/dialogue_states.py (continued from the conversation's previous
  prediction) where it can, else by Rasa's code.
- Slot extraction (``action_extract_slots``, every message) rebuilt the conversation from its
  events (``DialogueStateTracker.from_events``) to hand the slot candidates to
  ``action_validate_slot_mappings``. While that runs, ``from_events`` is given the tracker being
  extracted from: when the events asked for start with exactly that tracker's events (the same
  objects) and the slots are the same definitions, the result is that tracker copied plus the
  remaining events, which is what the replay produces; with no remaining events (no candidates,
  most messages) it is the tracker itself, which Rasa only reads there. Anything else is
  replayed as before. A form's temporary tracker (``FormAction._temporary_tracker``: the
  conversation plus the form's own events, rebuilt for every validation and every slot request)
  is continued from the conversation's tracker the same way, always as a copy.
- ``Domain.is_empty`` built a new empty ``Domain`` to compare with, for every parsed message
  (``_check_for_unseen_features``); the empty domain's dictionary is now built once.

``install()`` is called by the patch layer (rasa_addons/patches.py, patch ``rasa_runtime``), never on
import. The action-call body (rasa_addons/action_call.py) is its own patch, ``action_call``, which
requires this one (``json_body`` below writes its prepared events).
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import json
from typing import Any, Dict, Iterator, List, Optional, Text, Tuple, Type

from rasa_addons import action_call, dialogue_states

try:
    import ujson
except ImportError:  # not installed: json.dumps writes every body, as Rasa does
    ujson = None

_installed = False


def _resolve_by_type_remembering(original: Any) -> Any:
    found: Dict[Text, Type[Any]] = {}

    def resolve_by_type(type_name: Text, default: Optional[Type[Any]] = None) -> Optional[Type[Any]]:
        cls = found.get(type_name)
        if cls is not None:
            return cls
        cls = original(type_name, default)
        if cls is not None and cls is not default:
            found[type_name] = cls
        return cls

    resolve_by_type.__doc__ = original.__doc__
    return staticmethod(resolve_by_type)


_new_object = object.__new__


def _slot_copy(self: Any) -> Any:
    """What ``copy.copy`` does for a plain object without ``__slots__``: same class, same state
    (a new instance through the class's ``__new__``, with a copy of the instance dictionary).
    Slots are copied 300-500 times a turn, so the common case, a class that keeps object's
    ``__new__``, calls it directly and sets the copied dictionary in one step (a third faster)."""
    cls = type(self)
    if cls.__new__ is _new_object:
        duplicate = _new_object(cls)
        duplicate.__dict__ = self.__dict__.copy()
        return duplicate
    duplicate = cls.__new__(cls)
    duplicate.__dict__.update(self.__dict__)
    return duplicate


def evaluate(graph: Dict[Text, Any], targets: List[Text]) -> Tuple[Any, ...]:
    """The values of ``targets`` in a dask task graph, as ``dask.get(graph, targets)`` returns them.

    A task is a tuple whose first item is callable; its other items are either keys of the graph
    (replaced by their values) or literals. Anything else in the graph is a literal value. Every
    node runs at most once."""
    values: Dict[Text, Any] = {}

    def value_of(key: Text) -> Any:
        if key in values:
            return values[key]
        task = graph[key]
        if isinstance(task, tuple) and task and callable(task[0]):
            args = [value_of(arg) if _is_key(arg, graph) else arg for arg in task[1:]]
            result = task[0](*args)
        else:
            result = task
        values[key] = result
        return result

    return tuple(value_of(target) for target in targets)


def _is_key(arg: Any, graph: Dict[Text, Any]) -> bool:
    try:
        return arg in graph
    except TypeError:  # unhashable literal
        return False


_dask_run: Any = None


def _graph_run(self: Any, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
    """``DaskGraphRunner.run`` with the minimal schema cached per targets and no dask scheduling.

    Only for graphs without node hooks, i.e. the prediction graph the server runs on every turn:
    training graphs (``rasa train`` adds its training and logging hooks) keep dask, which also
    frees intermediate results of the large training graph as soon as nothing needs them."""
    from rasa.engine.exceptions import GraphRunError

    hooked = self.__dict__.get("_rasa_addons_hooked")
    if hooked is None:
        hooked = self._rasa_addons_hooked = any(getattr(node, "_hooks", None)
                                                for node in self._instantiated_nodes.values())
    if hooked:
        return _dask_run(self, inputs, targets)
    run_targets = targets if targets else self._graph_schema.target_names
    cache = self.__dict__.setdefault("_rasa_addons_graphs", {})
    key = tuple(run_targets)
    graph = cache.get(key)
    if graph is None:
        graph = cache[key] = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
    run_graph = dict(graph)  # inputs are added per call, the cached graph stays input-free
    if inputs:
        self._add_inputs_to_graph(inputs, run_graph)
    try:
        return dict(evaluate(run_graph, list(run_targets)))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


def json_body(value: Any) -> str:
    """``plain_json_body``, or for an action call whose events are prepared
    (``action_call.ActionCallBody``) the rest of it written by ``plain_json_body`` with them."""
    if type(value) is action_call.ActionCallBody:
        text = action_call.spliced_body(value, plain_json_body)
        if text is not None:
            return text
    return plain_json_body(value)


def plain_json_body(value: Any) -> str:
    """The request body for ``json=``: ujson (a Rasa dependency), which for the tracker Rasa sends
    on every action call (~50 kB) is 2-3x faster than ``json.dumps``, and ``json.dumps`` for
    anything ujson refuses (NaN, infinity, bytes, other objects), so such a value fails
    with the error it failed with before. Both write the same JSON values: non-ASCII escaped,
    floats in their shortest round-trip form, keys in insertion order, non-string keys (numbers,
    booleans, None) as strings. The one thing ujson accepts that ``json.dumps`` refuses, bytes as
    dict keys, does not occur in what Rasa sends (events, slots and the domain come from JSON)."""
    if ujson is not None:
        try:
            return ujson.dumps(value, ensure_ascii=True, escape_forward_slashes=False, allow_nan=False,
                               reject_bytes=True)
        except Exception:  # noqa: BLE001 - json.dumps decides, and raises its own error
            pass
    return json.dumps(value)


class _KeptSession:
    """``async with`` yields the kept session and leaves it open (``request`` closes its own)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *_exc: Any) -> bool:
        return False


_new_session: Any = None
_sessions: Dict[Tuple[Any, ...], Any] = {}


def _kept_session(self: Any) -> Any:
    """``EndpointConfig.session`` that hands out one open session per loop and endpoint."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not in a coroutine: Rasa's own, closed after use
        return _new_session(self)
    key = (id(loop), self.url, json.dumps(self.headers, sort_keys=True, default=str),
           json.dumps(self.basic_auth, sort_keys=True, default=str))
    session = _sessions.get(key)
    if session is None or session.closed or getattr(session, "_loop", loop) is not loop:
        session = _sessions[key] = _new_session(self)
        session._json_serialize = json_body  # aiohttp's own setting (ClientSession(json_serialize=...))
    return _KeptSession(session)


_replay_copy: Any = None
_rasa_past_states: Any = None
#: set on a tracker whose slots were found to be its domain's slot definitions (the domain)
SLOT_DEFINITIONS_KEY = "_rasa_addons_slot_definitions"


def _copied_directly(tracker: Any) -> bool:
    """Whether ``_tracker_copy`` copies ``tracker``'s state (subclasses and trackers without the
    domain's slots, an ``AnySlotDict``, keep Rasa's replay)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    return type(tracker) is DialogueStateTracker and type(tracker.slots) is dict


def _tracker_copy(self: Any) -> Any:
    """``DialogueStateTracker.copy`` without replaying the events (same resulting tracker)."""
    from rasa.shared.constants import DEFAULT_SENDER_ID
    from rasa.shared.core.trackers import DialogueStateTracker

    if not _copied_directly(self):
        return _replay_copy(self)
    duplicate = DialogueStateTracker.__new__(DialogueStateTracker)
    state = duplicate.__dict__
    state["_max_event_history"] = self._max_event_history
    state["events"] = self._create_events(list(self.events))
    state["sender_id"] = self.sender_id or DEFAULT_SENDER_ID
    # what copy.copy does for a slot (its class's __copy__), without copy's dispatch: a third of
    # the cost of copying 33 slots, and trackers are copied 10-15 times a turn
    state["slots"] = {name: type(slot).__copy__(slot) for name, slot in self.slots.items()}
    state["sender_source"] = None
    state["is_rule_tracker"] = self.is_rule_tracker
    state["_paused"] = self._paused
    state["followup_action"] = self.followup_action
    state["latest_action"] = dict(self.latest_action) if self.latest_action is not None else None
    state["latest_message"] = self.latest_message
    state["latest_bot_utterance"] = self.latest_bot_utterance
    state["active_loop"] = copy.copy(self.active_loop)
    state["model_id"] = None
    state["assistant_id"] = None
    definitions = self.__dict__.get(SLOT_DEFINITIONS_KEY)
    if definitions is not None:  # the copied slots have the same definitions (dialogue_states)
        state[SLOT_DEFINITIONS_KEY] = definitions
    return duplicate


def _copy_states(states: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """A state is a dict of sub-state dicts whose values are strings and tuples (immutable)."""
    return [{key: dict(sub_state) for key, sub_state in state.items()} for state in states]


def _past_states_remembering(original: Any) -> Any:
    def past_states(self: Any, domain: Any, omit_unset_slots: bool = False, ignore_rule_only_turns: bool = False,
                    rule_only_data: Optional[Dict[Text, Any]] = None) -> List[Dict[Text, Any]]:
        events = self.events
        latest = events[-1] if events else None
        memo = self.__dict__.get("_rasa_addons_states")
        if memo is None or memo[0] != len(events) or memo[1] is not latest or memo[2] is not domain:
            memo = self.__dict__["_rasa_addons_states"] = (len(events), latest, domain, [])
        arguments = (bool(omit_unset_slots), bool(ignore_rule_only_turns), rule_only_data)
        for remembered_arguments, states in memo[3]:
            if remembered_arguments == arguments:
                return _copy_states(states)
        states = dialogue_states.past_states(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        if states is None:
            states = original(self, domain, omit_unset_slots=omit_unset_slots,
                              ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only_data)
        memo[3].append(((arguments[0], arguments[1], copy.deepcopy(rule_only_data)), _copy_states(states)))
        return _copy_states(states)

    past_states.__doc__ = original.__doc__
    return past_states


#: (tracker, whether it may be handed over itself) while Rasa rebuilds a tracker from that
#: tracker's events plus a few more: slot extraction's validation, a form's temporary tracker
_rebuild_source: "contextvars.ContextVar[Any]" = contextvars.ContextVar("rasa_addons_rebuild_source", default=None)
_SLOT_STATE = ("_value", "_has_been_set")


def _same_slot_definitions(slots: List[Any], tracker_slots: Dict[Text, Any]) -> bool:
    if len(slots) != len(tracker_slots):
        return False
    for slot, own in zip(slots, tracker_slots.values()):
        if type(slot) is not type(own) or slot.name != own.name:
            return False
        mine, theirs = slot.__dict__, own.__dict__
        if mine.keys() != theirs.keys() or any(mine[key] != theirs[key] for key in mine if key not in _SLOT_STATE):
            return False
    return True


def _continued_copy(source: Any, sender_id: Text, events: List[Any], slots: Any, domain: Any,
                    may_share: bool = False) -> Any:
    """``source`` copied and continued with the events after its own, or None when
    ``from_events(sender_id, events, slots)`` could build something else. With ``may_share``
    and no events after its own, ``source`` itself (the caller only reads the result)."""
    if (not _copied_directly(source) or source.is_rule_tracker or source._max_event_history is not None or not sender_id or source.sender_id != sender_id
            or not isinstance(events, list) or not isinstance(slots, list)):
        return None
    own = source.events
    if len(events) < len(own) or any(mine is not theirs for mine, theirs in zip(events, own)):
        return None
    if not _same_slot_definitions(slots, source.slots):
        return None
    if may_share and len(events) == len(own):
        # no extracted slot candidates (most messages): the rebuilt tracker would be a copy of
        # the source, and Rasa only reads it (the action-call body, response templates), so the
        # source itself is handed over instead of a copy of its 33 slots
        return source
    tracker = _tracker_copy(source)
    for event in events[len(own):]:
        tracker.update(event, domain)
    return tracker


_rasa_from_events: Any = None


def _from_events(cls: Any, sender_id: Text, evts: List[Any], slots: Any = None, max_event_history: Optional[int] = None,
                 sender_source: Optional[Text] = None, domain: Any = None) -> Any:
    rebuilding = _rebuild_source.get()
    if rebuilding is not None and max_event_history is None and sender_source is None:
        from rasa.shared.core.trackers import DialogueStateTracker

        if cls is DialogueStateTracker:
            tracker = _continued_copy(rebuilding[0], sender_id, evts, slots, domain, may_share=rebuilding[1])
            if tracker is not None:
                return tracker
    return _rasa_from_events.__func__(cls, sender_id, evts, slots, max_event_history, sender_source, domain)


@contextlib.contextmanager
def _rebuilding(tracker: Any, may_share: bool) -> Iterator[None]:
    """While the block runs, ``from_events`` continues ``tracker`` (see ``_from_events``)."""
    token = _rebuild_source.set((tracker, may_share))
    try:
        yield
    finally:
        _rebuild_source.reset(token)


def _validation_knowing_its_tracker(original: Any) -> Any:
    async def _execute_validation_action(self: Any, extraction_events: Any, output_channel: Any, nlg: Any,
                                         tracker: Any, domain: Any) -> Any:
        with _rebuilding(tracker, may_share=True):
            return await original(self, extraction_events, output_channel, nlg, tracker, domain)

    _execute_validation_action.__doc__ = original.__doc__
    return _execute_validation_action


def _form_tracker_continuing(original: Any) -> Any:
    def _temporary_tracker(self: Any, current_tracker: Any, additional_events: Any, domain: Any) -> Any:
        with _rebuilding(current_tracker, may_share=False):
            return original(self, current_tracker, additional_events, domain)

    _temporary_tracker.__doc__ = original.__doc__
    return _temporary_tracker


_empty_domain: Optional[Dict[Text, Any]] = None


def _domain_is_empty(self: Any) -> bool:
    """``Domain.is_empty``: compared with the empty domain's dictionary, built once."""
    global _empty_domain
    if _empty_domain is None:
        from rasa.shared.core.domain import Domain

        _empty_domain = Domain.empty().as_dict()
    return self.as_dict() == _empty_domain


def install() -> None:
    """Replace the code paths described above (idempotent)."""
    global _installed, _dask_run, _new_session, _replay_copy, _rasa_past_states, _rasa_from_events
    if _installed:
        return
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.utils.endpoints import EndpointConfig
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.slots import Slot
    from rasa.shared.core.trackers import DialogueStateTracker

    Event.resolve_by_type = _resolve_by_type_remembering(Event.resolve_by_type)
    Slot.__copy__ = _slot_copy
    _dask_run = DaskGraphRunner.run
    DaskGraphRunner.run = _graph_run
    _new_session = EndpointConfig.session
    EndpointConfig.session = _kept_session
    _replay_copy = DialogueStateTracker.copy
    DialogueStateTracker.copy = _tracker_copy
    _rasa_past_states = DialogueStateTracker.past_states
    DialogueStateTracker.past_states = _past_states_remembering(_rasa_past_states)
    Domain.is_empty = _domain_is_empty
    from rasa.core.actions.action import ActionExtractSlots

    _rasa_from_events = DialogueStateTracker.__dict__["from_events"]
    DialogueStateTracker.from_events = classmethod(_from_events)
    ActionExtractSlots._execute_validation_action = _validation_knowing_its_tracker(
        ActionExtractSlots._execute_validation_action)
    from rasa.core.actions.forms import FormAction

    FormAction._temporary_tracker = _form_tracker_continuing(FormAction._temporary_tracker)
    _installed = True


__all__ = ["install", "evaluate"]
