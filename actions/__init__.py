"""Brightcart support assistant: the rasa-sdk action server package.

rasa-sdk imports every module of this package at start-up (``--actions actions``); each module
holds the actions of one concern (orders, billing, account, knowledge, triage, handoff, ...).
"""
