"""Rasa-side extensions (Python 3.10, rasa 3.6).

Importable because the Makefile and scripts/stack.py run Rasa with PYTHONPATH set to the project.
Two kinds of module live here:

- Components Rasa loads by name from config.yml, endpoints.yml and credentials.yml
  (cascade_classifier, escalation_policy, sqlite_stores, sentence_count_vectors, privacy_endpoint,
  minilm / minilm_onnx). They change nothing in Rasa. The MiniLM encoder is also imported by the
  action server and by tests in the app environment, which has no Rasa.
- Patches: cheaper exact equivalents of Rasa internals (action_validation, debug_log_copies,
  rasa_runtime with dialogue_states, action_call, domain_digest, rule_lookup, applied_events).
  They are declared, checked against the Rasa source they were written for, and applied only by
  rasa_addons/patches.py ``apply()``, which ``python -m rasa_addons.launch <rasa arguments>`` calls
  before running Rasa's CLI. Importing this package (or any module of it) replaces nothing.
  ``RASA_PATCHES=none`` runs Rasa's own code (docs/performance.md, "The patch layer").
"""
