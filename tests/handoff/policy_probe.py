"""Runs under .venv-rasa (Python 3.10, rasa 3.6): exercises EscalationPolicy with real Rasa
trackers, domain and ensemble, and prints the outcomes as JSON for tests/handoff/test_escalation_policy.py.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble  # noqa: E402
from rasa.core.policies.policy import PolicyPrediction  # noqa: E402
from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted, ActiveLoop, ConversationPaused, ConversationResumed, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from rasa_addons.escalation_policy import EscalationPolicy  # noqa: E402
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # noqa: E402 - as the Rasa server runs (rasa_addons/launch.py)

HANDOFF = "action_handoff_to_human"


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.95})


def main() -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    context = ExecutionContext(GraphSchema({}), "probe")
    resource = Resource("escalation_policy")
    config = {**EscalationPolicy.get_default_config()}
    policy = EscalationPolicy.create(config, storage, resource, context)
    policy.train([], domain)
    loaded = EscalationPolicy.load(config, storage, resource, context)

    def predict(events, active_loop=None):
        tracker = DialogueStateTracker.from_events("probe", [ActionExecuted("action_listen")] + events, domain.slots)
        if active_loop:
            tracker.update(ActiveLoop(active_loop))
        prediction = loaded.predict_action_probabilities(tracker, domain)
        best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
        return {
            "action": domain.action_names_or_texts[best] if prediction.max_confidence > 0 else None,
            "confidence": prediction.max_confidence,
            "priority": prediction.policy_priority,
            "no_user": prediction.is_no_user_prediction,
            "tracker": tracker,
            "prediction": prediction,
        }

    fired = [user("I want a person", "request_human"), SlotSet("escalation_rule", "customer_asks_for_human")]
    results = {}
    results["fires_after_rule"] = predict(fired)
    results["not_twice"] = predict(fired + [ActionExecuted(HANDOFF), ConversationPaused()])
    results["not_twice_even_if_resumed"] = predict(fired + [ActionExecuted(HANDOFF), ConversationPaused(), ConversationResumed()])
    results["rule_from_earlier_turn"] = predict(fired + [ActionExecuted(HANDOFF), ConversationPaused(), ConversationResumed(),
                                                         ActionExecuted("action_listen"), user("where is my order", "order_status")])
    results["no_rule"] = predict([user("hi", "greet")])
    results["rule_cleared"] = predict([user("hi", "greet"), SlotSet("escalation_rule", None)])
    results["old_rule_still_in_slot"] = predict(fired + [ActionExecuted("utter_x"), ActionExecuted("action_listen"), user("hi", "greet")])
    results["paused"] = predict([ConversationPaused(), user("hello?", "greet"), SlotSet("escalation_rule", "frustrated_customer")])
    results["set_by_an_action_this_turn"] = predict([user("unlock my account", "account_locked"), ActionExecuted("action_unlock_account"),
                                                     SlotSet("escalation_rule", "account_security_review")])
    in_form = predict(
        [user("where is my order", "order_status"), ActionExecuted("order_status_form"), ActiveLoop("order_status_form"),
         SlotSet("requested_slot", "order_id"), ActionExecuted("action_listen"),
         user("THIS IS THE THIRD TIME I'M ASKING!!!", "order_status"), SlotSet("escalation_rule", "frustrated_customer")],
        active_loop="order_status_form",
    )
    results["in_form"] = in_form
    # RulePolicy's loop happy path: the form, confidence 1.0, its own priority, "no user" prediction
    from rasa.core.policies.rule_policy import RulePolicy
    form_probabilities = [0.0] * domain.num_actions
    form_probabilities[domain.index_for_action("order_status_form")] = 1.0
    rule_policy = PolicyPrediction(form_probabilities, "RulePolicy", RulePolicy.get_default_config()["priority"], is_no_user_prediction=True)
    winner = DefaultPolicyPredictionEnsemble._pick_best_policy([rule_policy, in_form["prediction"]])
    best = max(range(len(winner.probabilities)), key=winner.probabilities.__getitem__)
    out = {name: {k: v for k, v in r.items() if k not in ("tracker", "prediction")} for name, r in results.items()}
    out["ensemble_in_form"] = {"policy": winner.policy_name, "action": domain.action_names_or_texts[best]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
