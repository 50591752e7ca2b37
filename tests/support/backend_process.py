"""Start the real Brightcart demo backend as a subprocess for tests.

    from tests.support.backend_process import start_backend

    backend = start_backend()            # free loopback port, fresh seeded DB in a temp dir
    ...  httpx.get(backend.url + "/api/orders/BC-100001") ...
    backend.stop()

or ``with running_backend() as backend: ...``. Point the action code at it with
``monkeypatch.setenv("BACKEND_URL", backend.url)`` (``backend.env()`` gives the variables).
The backend runs with the project's Python 3.11 venv (``.venv``) unless BACKEND_PYTHON says
otherwise, so this also works from tests running under another interpreter.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def backend_python() -> str:
    override = os.environ.get("BACKEND_PYTHON")
    if override:
        return override
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


@dataclass
class BackendProcess:
    """A running backend. ``url`` is its base URL (no trailing slash)."""

    port: int
    db_path: Path
    log_path: Path
    process: subprocess.Popen
    workdir: Path
    _log_file: object = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    api_key: str = ""
    admin_key: str = ""

    def env(self) -> dict[str, str]:
        """Environment variables that point a client (actions/backend_client.py) at it."""
        return {"BACKEND_URL": self.url, "BACKEND_API_KEY": self.api_key}

    def headers(self, admin: bool = False) -> dict[str, str]:
        """The key header an authorised caller sends (the action server's, or the admin's)."""
        return {"X-Api-Key": self.admin_key if admin else self.api_key}

    def log(self) -> str:
        """Everything the backend has printed so far (one line per request)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove its temp directory (a
        ``db_path`` given to start_backend outside that directory is left alone)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_backend(
    *,
    port: int | None = None,
    db_path: Path | str | None = None,
    today: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> BackendProcess:
    """Start ``python -m demo_backend`` and wait until ``/health`` answers 200.

    By default it uses a new temp directory for the database (so it starts freshly seeded)
    and a free port. Raises RuntimeError with the process output if it does not come up.
    """
    workdir = Path(tempfile.mkdtemp(prefix="brightcart-backend-"))
    if db_path is None:
        db_path = workdir / "backend.sqlite3"
    db_path = Path(db_path)
    log_path = workdir / "backend.log"
    port = port or free_port()

    env = dict(os.environ)
    env.update({
        "BACKEND_HOST": "127.0.0.1",
        "BACKEND_PORT": str(port),
        "BACKEND_DB": str(db_path),
        "PYTHONUNBUFFERED": "1",
        "BACKEND_API_KEY": secrets.token_urlsafe(16),
        "BACKEND_ADMIN_KEY": secrets.token_urlsafe(16),
    })
    env.pop("BACKEND_PUBLIC_URL", None)
    if today:
        env["BACKEND_TODAY"] = today
    env.update(extra_env or {})

    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
    process = subprocess.Popen(
        [backend_python(), "-m", "demo_backend"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    backend = BackendProcess(port=port, db_path=db_path, log_path=log_path, process=process,
                             workdir=workdir, _log_file=log_file,
                             api_key=env["BACKEND_API_KEY"], admin_key=env["BACKEND_ADMIN_KEY"])
    try:
        _wait_healthy(backend, timeout)
    except BaseException:
        output = backend.log()
        backend.stop()
        raise RuntimeError(f"demo backend did not start on port {port}:\n{output}") from None
    return backend


def _wait_healthy(backend: BackendProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not backend.is_running():
            raise RuntimeError(f"backend exited with code {backend.process.returncode}")
        try:
            if httpx.get(backend.url + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"backend not healthy after {timeout} s")


@contextmanager
def running_backend(**kwargs) -> Iterator[BackendProcess]:
    """Context manager around :func:`start_backend` / :meth:`BackendProcess.stop`."""
    backend = start_backend(**kwargs)
    try:
        yield backend
    finally:
        backend.stop()
