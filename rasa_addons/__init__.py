"""Rasa-side extensions (Python 3.10, rasa 3.6): components referenced from config.yml.

Importable because the Makefile and scripts/stack.py run Rasa with PYTHONPATH set to the project.
"""
