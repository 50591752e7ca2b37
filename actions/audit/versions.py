"""The versions in force when a turn is recorded (besides the Rasa model id, carried by events).

- action server version: ACTION_SERVER_VERSION if the deployment sets it (an image tag), else a
  hash of the action code loaded at start-up (``actions-<12 hex>``), so two runs of different code
  never show the same version;
- escalation rules version: the ``version`` field of the rules YAML the action server loads;
- knowledge index version: the hash of the ingested articles (actions/knowledge manifest).
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import yaml

from actions.config import PROJECT_ROOT

logger = logging.getLogger(__name__)

_ACTION_VERSION: Optional[str] = None
_RULES_CACHE: Dict[Path, Tuple[float, Optional[str]]] = {}


def action_server_version() -> str:
    global _ACTION_VERSION
    if _ACTION_VERSION is None:
        explicit = os.environ.get("ACTION_SERVER_VERSION", "").strip()
        if explicit:
            _ACTION_VERSION = explicit
        else:
            digest = hashlib.sha256()
            root = PROJECT_ROOT / "actions"
            for path in sorted(root.rglob("*.py")):
                if "__pycache__" in path.parts:
                    continue
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
            _ACTION_VERSION = f"actions-{digest.hexdigest()[:12]}"
    return _ACTION_VERSION


def rules_version(path: Optional[Path] = None) -> Optional[str]:
    """Version of the escalation rules the action server uses (actions.escalation), else the
    ``version`` field of the rules file (re-read when the file changes); None if absent."""
    if path is None:
        try:
            from actions.escalation import rules_version as loaded_rules_version

            loaded = loaded_rules_version()
            if loaded:
                return str(loaded)
        except ImportError:
            pass
        from actions.audit.settings import AuditSettings

        path = AuditSettings.load().escalation_rules_file
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _RULES_CACHE.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    version: Optional[str] = None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and data.get("version") is not None:
            version = str(data["version"])
    except (OSError, yaml.YAMLError) as error:
        logger.warning("cannot read the escalation rules version from %s: %s", path, error)
    _RULES_CACHE[path] = (mtime, version)
    return version


def knowledge_index_version() -> Optional[str]:
    try:
        from actions.knowledge.manifest import index_version
    except ImportError:
        return None
    try:
        return index_version()
    except Exception as error:  # noqa: BLE001 - a broken manifest must not stop the audit
        logger.warning("cannot read the knowledge index version: %s", error)
        return None


def current_versions() -> Dict[str, Optional[str]]:
    return {
        "action_server_version": action_server_version(),
        "rules_version": rules_version(),
        "kb_index_version": knowledge_index_version(),
    }
