"""RulePolicy's search for the rules that match a conversation, without re-reading every rule.

``RulePolicy._get_possible_keys`` filters all rules (182 here) once per state of the whole
conversation: each time it decodes the rule's key (a JSON list of states, behind an LRU cache),
reverses it, and compares; it is called one to three times per prediction, 3-5 % of Rasa's CPU
under the bench's 10-conversation load. Two things make the same answer cheaper:

- A rule of n states is decided by the conversation's last n states: at any earlier state Rasa's
  ``_is_rule_applicable`` returns True ("further back than the rule's length"). So only the last
  L states are looked at, L the length of the longest rule in the lookup.
- Each rule's states are decoded and reversed once per lookup (a policy's lookup does not change
  after training or loading) instead of on every check, and the rules are grouped by the
  previous action their latest state requires: at the latest state only the rules requiring the
  conversation's previous action, and those requiring none by name, can match.

The comparisons themselves are Rasa's (``_does_rule_match_state`` and the conversation-start
checks of ``_is_rule_applicable``); tests/performance/test_rule_lookup.py compares the keys found
with Rasa's for every state sequence of every story, rule and test story.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Set, Text, Tuple

from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
from rasa.shared.nlu.constants import ACTION_NAME

_rasa_get_possible_keys: Any = None
_rasa_is_rule_applicable: Any = None
_installed = False


class _PreparedLookup:
    """A lookup's keys with their states, latest first, and the longest rule's length."""

    __slots__ = ("lookup", "size", "reversed_states", "longest", "by_latest_action", "unindexed")

    def __init__(self, lookup: Dict[Text, Text]) -> None:
        self.lookup = lookup
        self.size = len(lookup)
        self.reversed_states: List[Tuple[Text, List[Dict[Text, Any]]]] = [
            (key, list(reversed(json.loads(key)))) for key in lookup
        ]
        self.longest = max((len(states) for _, states in self.reversed_states), default=0)
        # A rule whose latest state names a previous action (other than "should not be set") only
        # matches a conversation whose latest previous action is that one (_does_rule_match_state),
        # so the first step only looks at those rules and at the rules that name none; the
        # order of the rules within each group is the lookup's.
        self.by_latest_action: Dict[Text, List[Tuple[Text, List[Dict[Text, Any]]]]] = {}
        self.unindexed: List[Tuple[Text, List[Dict[Text, Any]]]] = []
        for key, states in self.reversed_states:
            action = _rule_previous_action_name(states[0]) if states else None
            if action is None:
                self.unindexed.append((key, states))
            else:
                self.by_latest_action.setdefault(action, []).append((key, states))


_prepared: Dict[int, _PreparedLookup] = {}


def _prepared_lookup(lookup: Dict[Text, Text]) -> _PreparedLookup:
    prepared = _prepared.get(id(lookup))
    if prepared is None or prepared.lookup is not lookup or prepared.size != len(lookup):
        prepared = _prepared[id(lookup)] = _PreparedLookup(lookup)
    return prepared


def _rule_previous_action_name(rule_state: Dict[Text, Any]) -> Optional[Text]:
    """The previous action a rule state requires, when it requires one by name."""
    previous = rule_state.get(PREVIOUS_ACTION)
    if not previous:
        return None
    name = previous.get(ACTION_NAME)
    if isinstance(name, str) and name and name != SHOULD_NOT_BE_SET:
        return name
    return None


def _rule_state_applies(policy: Any, rule_state: Dict[Text, Any], conversation_state: Dict[Text, Any]) -> bool:
    """``RulePolicy._is_rule_applicable`` for a turn the rule reaches (the checks after its
    length check), with the rule's state already decoded."""
    current_previous_action = conversation_state.get(PREVIOUS_ACTION)
    rule_previous_action = rule_state.get(PREVIOUS_ACTION)
    if not rule_previous_action and not current_previous_action:
        return True
    if not rule_previous_action or not current_previous_action:
        return False
    return policy._does_rule_match_state(rule_state, conversation_state)


def get_possible_keys(self: Any, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> Set[Text]:
    """``RulePolicy._get_possible_keys``: the keys of the rules that apply to ``states``."""
    if type(self)._is_rule_applicable is not _rasa_is_rule_applicable:  # a subclass decides itself
        return _rasa_get_possible_keys(self, lookup, states)
    prepared = _prepared_lookup(lookup)
    candidates = prepared.reversed_states
    if states and prepared.by_latest_action:
        previous = states[-1].get(PREVIOUS_ACTION) or {}
        action = previous.get(ACTION_NAME) if isinstance(previous, dict) else None
        candidates = prepared.unindexed + prepared.by_latest_action.get(action, []) if isinstance(action, str) \
            else prepared.unindexed
    recent = states[len(states) - prepared.longest:] if prepared.longest < len(states) else states
    for turn_index, state in enumerate(reversed(recent)):
        candidates = [
            (key, rule_states) for key, rule_states in candidates
            if turn_index >= len(rule_states) or _rule_state_applies(self, rule_states[turn_index], state)
        ]
        if not candidates:
            break
    return {key for key, _ in candidates}


def install() -> None:
    """Replace ``RulePolicy._get_possible_keys`` (idempotent)."""
    global _installed, _rasa_get_possible_keys, _rasa_is_rule_applicable
    if _installed:
        return
    from rasa.core.policies.rule_policy import RulePolicy

    _rasa_is_rule_applicable = RulePolicy._is_rule_applicable
    _rasa_get_possible_keys = RulePolicy._get_possible_keys
    RulePolicy._get_possible_keys = get_possible_keys
    _installed = True


__all__ = ["install", "get_possible_keys"]
