"""Right to erasure and retention (docs/privacy.md, "Erasure and retention").

- ``sqlstores``  the tables of Rasa's SQL tracker store and SQL event broker, for SQLite and
  PostgreSQL: which conversations belong to a customer, delete them, delete old ones. Imported by
  both environments (Rasa's process through ``rasa_addons/privacy_endpoint.py``, and the action
  server's): standard library only, plus the driver of the connection it is handed.
- ``erasure``    what "Approve deletion" in a Slack case runs, store by store.
- ``retention``  ``python -m actions.privacy.retention`` (``make retention``).
- ``log``        the erasure log and the retention log (no personal data in either).
"""
