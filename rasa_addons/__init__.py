"""Rasa-side extensions (Python 3.10, rasa 3.6): components referenced from config.yml and
endpoints.yml.

Importable because the Makefile and scripts/stack.py run Rasa with PYTHONPATH set to the project.
Importing the package in Rasa's environment also installs the action-answer and tracker-events
validation that builds its validators once (rasa_addons/action_validation.py) and cheaper exact equivalents of Rasa
internals that every turn runs: rasa_runtime.py (eight, from event-class lookup to tracker copies),
action_call.py (the action-call body with each event's JSON reused), rule_lookup.py (RulePolicy's
rule search), applied_events.py and dialogue_states.py (a conversation's applied events and
dialogue states, continued instead of rebuilt for every prediction), debug_log_copies.py (the deep
copies Rasa makes for debug-log arguments, skipped while debug messages are dropped) and
domain_digest.py (the domain sent to the action server once, then its digest). Rasa imports this package
whenever it loads the tracker store, the policies or the intent classifier. The MiniLM encoder
(rasa_addons/minilm.py, minilm_onnx.py) is also imported by tests in the app environment, which has no Rasa.
"""
import importlib.util

if importlib.util.find_spec("rasa") is not None:
    from rasa_addons import (action_validation, applied_events, debug_log_copies, domain_digest, rasa_runtime,
                             rule_lookup)

    action_validation.install()
    debug_log_copies.install()
    rasa_runtime.install()
    domain_digest.install()  # wraps the action-call body rasa_runtime installs
    rule_lookup.install()
    applied_events.install()
