"""Rasa-side extensions (Python 3.10, rasa 3.6): components referenced from config.yml and
endpoints.yml.

Importable because the Makefile and scripts/stack.py run Rasa with PYTHONPATH set to the project.
Importing the package also installs the action-answer validation that builds its validator once
(rasa_addons/action_validation.py): Rasa imports this package whenever it loads the tracker
store, the policies or the intent classifier.
"""
from rasa_addons import action_validation

action_validation.install()
