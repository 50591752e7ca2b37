"""Decision trail, KPIs, drift and replay: make every bot decision inspectable (docs/audit.md).

The action server's background consumer (``consumer``) turns Rasa's event stream into one record
per customer turn in the audit store (``store``); the command-line tools read that store:

    python -m actions.audit.cli trail <conversation_id> | list --intent X --rule Y ...
    python -m actions.audit.kpis --since 2024-01-01 --until 2024-02-01 [--json]
    python -m actions.audit.report --out reports/kpi_report.html
    python -m actions.audit.drift
    python -m actions.audit.replay --model models/x.tar.gz --from-tracker-store

Modules here hold no Rasa actions; heavy imports (matplotlib) happen inside the commands, since
rasa-sdk imports every module of the actions package when the server starts.
"""
