"""rasa_addons.rule_lookup: RulePolicy finds the same rules as Rasa's ``_get_possible_keys``.

Runs in Rasa's environment with the trained model's RulePolicy: for every story, rule and test
story of the project cut after each action (and one long conversation), the states RulePolicy
predicts from (text and intent, with its rule-only data) give the same rule keys from both lookups
(rules, and the loops' unhappy paths) as Rasa's code, and the same prediction; and the search
really uses the prepared lookup.
"""
from __future__ import annotations

from tests.performance.rasa_script import ROOT, run_in_rasa_env

SCRIPT = r'''
import asyncio, json, sys
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import rule_lookup
from rasa.core.agent import load_agent
from rasa.core.policies.rule_policy import RulePolicy, RULES, RULES_FOR_LOOP_UNHAPPY_PATH
from rasa.shared.core.trackers import DialogueStateTracker
from tests.performance.rasa_stories import action_ends, project_story_events

assert RulePolicy._get_possible_keys is rule_lookup.get_possible_keys
agent = asyncio.run(load_agent(model_path=sys.argv[1]))
policy = next(node._component for node in agent.processor.graph_runner._instantiated_nodes.values()
              if isinstance(node._component, RulePolicy))
domain = agent.domain
story_events = project_story_events(domain)

original = rule_lookup._rasa_get_possible_keys
rule_only = policy._get_rule_only_data()
checked = found = 0
for events in story_events:
    for end in action_ends(events):
        tracker = DialogueStateTracker.from_events("s", events[:end], domain.slots)
        for use_text in (False, True):
            states = policy._prediction_states(tracker, domain, use_text, rule_only_data=rule_only)
            for lookup in (policy.lookup[RULES], policy.lookup[RULES_FOR_LOOP_UNHAPPY_PATH]):
                for cut in (states, states[-1:], []):
                    expected = original(policy, lookup, cut)
                    mine = policy._get_possible_keys(lookup, cut)
                    assert mine == expected, (end, use_text, sorted(mine ^ expected)[:3])
                    checked += 1
                    found += bool(expected) and len(expected) < len(lookup)
        prediction = policy.predict_action_probabilities(tracker, domain)
        RulePolicy._get_possible_keys = original
        reference = policy.predict_action_probabilities(tracker, domain)
        RulePolicy._get_possible_keys = rule_lookup.get_possible_keys
        assert prediction.probabilities == reference.probabilities and prediction.events == reference.events, end
# the lookup is prepared once, and a changed lookup is prepared again
prepared = rule_lookup._prepared_lookup(policy.lookup[RULES])
assert prepared is rule_lookup._prepared_lookup(policy.lookup[RULES])
assert prepared.longest == max(len(json.loads(k)) for k in policy.lookup[RULES])
changed = dict(policy.lookup[RULES])
assert rule_lookup._prepared_lookup(changed) is not prepared
print(json.dumps({"checked": checked, "found": found, "rules": len(policy.lookup[RULES]), "longest": prepared.longest}))
'''


def test_rule_keys_are_rasas() -> None:
    from tests.conftest import latest_model  # RASA_MODEL, else the newest in models/

    model = latest_model()
    result = run_in_rasa_env(SCRIPT, str(model), timeout=900)
    assert result["checked"] >= 5000 and result["found"] >= 500, result
    assert result["rules"] >= 50 and result["longest"] >= 2
