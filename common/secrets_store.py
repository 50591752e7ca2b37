"""The shared secrets every server checks, and where `make run` keeps them.

Production reads each secret from its environment variable and nothing else. For `make run` and
the tests, a secret that is not set is generated once (random, 256 bits) into ``<var>/secrets.env``
(mode 0600), so a fresh clone is authenticated by default without anyone choosing passwords.

Which secret guards what (docs/security.md has the full table):

* ``RASA_API_TOKEN``: Rasa's HTTP API (``--auth-token``); the action server uses it too.
* ``ACTION_SERVER_TOKEN``: sent by Rasa's action endpoint as ``X-Action-Token``; the action
  server's ``/webhook`` refuses every call without it.
* ``BACKEND_API_KEY`` / ``BACKEND_ADMIN_KEY``: the backend's ``/api`` and ``/api/admin`` routes.
* ``OPS_TOKEN``: operators' read-only endpoints (``/metrics``, the Slack outbox status).
* ``CHANNEL_SECRET``: the channels sign the identity they proved and the web session ids they
  issue; the action server checks those signatures.
* ``IDENTITY_JWT_SECRET``: the shared HS256 key with which the store site signs a customer's
  identity token (an RS256 public key, ``IDENTITY_JWT_PUBLIC_KEY``, can be used instead).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Dict, Mapping

GENERATED = (
    "RASA_API_TOKEN",
    "ACTION_SERVER_TOKEN",
    "BACKEND_API_KEY",
    "BACKEND_ADMIN_KEY",
    "OPS_TOKEN",
    "CHANNEL_SECRET",
    "IDENTITY_JWT_SECRET",
)


def read_env_file(path: Path) -> Dict[str, str]:
    values: Dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def ensure_local_secrets(var_dir: Path, environ: Mapping[str, str] | None = None) -> Dict[str, str]:
    """Every secret in GENERATED: the environment's value if set, else the one stored in
    ``var_dir/secrets.env``, generated and stored there the first time."""
    env = os.environ if environ is None else environ
    path = Path(var_dir) / "secrets.env"
    stored = read_env_file(path)
    missing = [key for key in GENERATED if not stored.get(key)]
    if missing:
        for key in missing:
            stored[key] = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "# generated once by `make run` / the tests; production sets these in the environment\n"
        body += "".join(f"{key}={stored[key]}\n" for key in GENERATED)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
    return {key: (env.get(key) or stored[key]) for key in GENERATED}
