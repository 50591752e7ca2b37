"""EscalationPolicy: run the handoff as soon as an escalation rule fired for this message.

The action server evaluates config/escalation_rules.yml after every customer message (inside
``action_validate_slot_mappings``, which Rasa's ``action_extract_slots`` calls before any policy
predicts) and sets the ``escalation_rule`` slot when a rule fires. This policy turns that slot
into the next action: it predicts ``action_handoff_to_human`` with confidence 1.0 when

- a ``SlotSet(escalation_rule, <name>)`` was logged after the latest user message, and
- ``action_handoff_to_human`` has not run since that message, and
- the conversation is not paused.

Otherwise it abstains (all zeros). Its priority (default: RulePolicy's + 1, i.e. 5 in Rasa 3.6)
is above every stock policy's, so on a tie at 1.0 it wins. With ``override_forms`` (default) its prediction is also marked as "not
based on user input": Rasa's ensemble lets such predictions overrule every other kind, which
is what RulePolicy's loop happy path uses, so an escalation in the middle of a form takes the
customer to a person instead of the form's next question (the handoff action closes the form).

Nothing to train: ``train`` only persists an empty resource so Rasa's graph can load it.

Config (config.yml, ``policies:``)::

    - name: rasa_addons.escalation_policy.EscalationPolicy
      priority: 5                        # default: RulePolicy's priority + 1
      action: action_handoff_to_human    # default
      slot: escalation_rule              # default
      override_forms: true               # default
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.constants import RULE_POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff_to_human"
RULE_SLOT = "escalation_rule"


def escalation_pending(tracker: DialogueStateTracker, action: Text = HANDOFF_ACTION, slot: Text = RULE_SLOT) -> Optional[Text]:
    """The rule that fired after the latest user message, if the handoff has not run since."""
    if tracker.is_paused():
        return None
    fired: Optional[Text] = None
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return fired
        if isinstance(event, ActionExecuted) and event.action_name == action:
            return None
        if fired is None and isinstance(event, SlotSet) and event.key == slot:
            if not event.value:
                # the latest value wins: a rule cleared later in the turn means no escalation
                return None
            fired = str(event.value)
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=False
)
class EscalationPolicy(Policy):
    """Predicts the handoff when the action server's escalation rules fired for this message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": RULE_POLICY_PRIORITY + 1,
            "action": HANDOFF_ACTION,
            "slot": RULE_SLOT,
            "override_forms": True,
        }

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.action = config.get("action", HANDOFF_ACTION)
        self.slot = config.get("slot", RULE_SLOT)
        self.override_forms = bool(config.get("override_forms", True))

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        if self.action not in domain.action_names_or_texts:
            logger.warning("EscalationPolicy: %s is not in the domain; the policy will never predict", self.action)
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        rule = escalation_pending(tracker, self.action, self.slot)
        if rule is None or self.action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(self.action)] = 1.0
        logger.debug("EscalationPolicy: rule %s fired, predicting %s", rule, self.action)
        return self._prediction(
            probabilities,
            is_no_user_prediction=self.override_forms,
            diagnostic_data={"escalation_rule": rule},
        )

    def _metadata(self) -> Dict[Text, Any]:
        return {"priority": self.priority, "action": self.action, "slot": self.slot}

    @classmethod
    def _metadata_filename(cls) -> Text:
        return "escalation_policy.json"
