"""Start, watch and stop the assistant's three processes (used by `make run` and the tests).

    python -m scripts.stack run        # start everything, print where to chat, Ctrl-C stops all

Each process gets its port and URLs from the environment, is started in its own process group,
and counts as up only when its health check answers.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from common.secrets_store import ensure_local_secrets

ROOT = Path(__file__).resolve().parent.parent
APP_PY = ROOT / ".venv" / "bin" / "python"
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"  # Rasa's own script: no patches (bench's stock bot)
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"


def rasa_command(*args: str) -> List[str]:
    """``rasa <args>`` through the project's entry point: the patch layer applied first
    (rasa_addons/launch.py; RASA_PATCHES in the environment chooses which, default all).
    Needs the project on PYTHONPATH, as every Rasa process here has."""
    return [str(RASA_PY), "-m", "rasa_addons.launch", *args]


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the process that started us dies (Linux), so a crashed
    test run or a killed `make run` never leaves servers holding ports."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    name: str
    command: List[str]
    health_url: str
    env: Dict[str, str]
    log_path: Path
    startup_timeout: float = 180.0
    cwd: Path = ROOT
    process: Optional[subprocess.Popen] = None
    _log: object = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}; see {self.log_path}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not become healthy within {self.startup_timeout:.0f}s; see {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if not self.process or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass
        finally:
            if self._log:
                self._log.close()


@dataclass
class StackConfig:
    backend_port: int = 8000
    action_port: int = 5055
    rasa_port: int = 5005
    var_dir: Path = ROOT / "var"
    model: Path = ROOT / "models"
    extra_env: Dict[str, str] = field(default_factory=dict)

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ)
        # every server authenticates its callers: secrets from the environment, else generated
        # once into <var>/secrets.env (common/secrets_store.py)
        env.update(ensure_local_secrets(self.var_dir, env))
        env.update(
            {
                "BACKEND_URL": self.backend_url,
                "BACKEND_PORT": str(self.backend_port),
                "BACKEND_DB": str(self.var_dir / "backend.sqlite3"),
                "ACTION_SERVER_URL": self.action_url,
                "ACTION_SERVER_PORT": str(self.action_port),
                "RASA_URL": self.rasa_url,
                "RASA_TRACKER_DB": str(self.var_dir / "rasa_tracker.db"),
                "RASA_EVENTS_DB": str(self.var_dir / "rasa_events.db"),
                "VAR_DIR": str(self.var_dir),
                "CHROMA_PATH": env.get("CHROMA_PATH") or str(self.var_dir / "chroma"),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "ANONYMIZED_TELEMETRY": "False",
                "RASA_TELEMETRY_ENABLED": "false",  # no error reports or usage data sent anywhere
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env


def site_origins(env: Dict[str, str]) -> List[str]:
    """The web origins allowed to call Rasa from a browser: CHAT_ALLOWED_ORIGINS (comma-separated),
    else the store page (BACKEND_URL), which embeds the chat widget."""
    configured = env.get("CHAT_ALLOWED_ORIGINS") or env.get("BACKEND_URL") or "http://127.0.0.1:8000"
    origins = [o.strip().rstrip("/") for o in configured.split(",") if o.strip()]
    return origins + [o.replace("://127.0.0.1", "://localhost") for o in origins if "://127.0.0.1" in o]


#: The largest request body Rasa's Sanic app reads (Sanic takes SANIC_-prefixed variables into
#: its config; larger gets 413 before it is read). Channel messages are cut off at 2000
#: characters anyway (channels/limits.py) and Socket.IO packets at 1,000,000 bytes by
#: python-engineio; the largest legitimate body is a whole conversation sent to /model/predict
#: by the audit replay (85 kB for 20 turns). Sanic's default is 100 MB. docs/operations.md.
RASA_MAX_BODY_BYTES = 2_000_000


def rasa_env(env: Dict[str, str]) -> Dict[str, str]:
    """Rasa's environment: one BLAS thread (``RASA_BLAS_THREADS``). Rasa handles every conversation
    on one event loop, and the intent classifier's MiniLM encoder multiplies small matrices: under
    load a second thread only spins against the other processes (quick make bench runs, 10
    concurrent conversations: 0.91x stock with one thread in Rasa, 0.73x with two).
    The request body limit: ``SANIC_REQUEST_MAX_SIZE`` if set, else ``RASA_MAX_BODY_BYTES``."""
    return {**env, "OPENBLAS_NUM_THREADS": env.get("RASA_BLAS_THREADS", "1"),
            "SANIC_REQUEST_MAX_SIZE": env.get("SANIC_REQUEST_MAX_SIZE") or str(RASA_MAX_BODY_BYTES)}


def action_env(env: Dict[str, str]) -> Dict[str, str]:
    """The action server's environment: one BLAS thread too (``ACTION_BLAS_THREADS``). Its only
    NumPy matrix work is small (MiniLM itself runs in ONNX Runtime on one thread); OpenBLAS's
    second thread busy-waits between those small products, and under the bench's 10-conversation
    load that doubled the action server's CPU per turn (bench.cpu: 39.7 -> 19.5 ms)."""
    return {**env, "OPENBLAS_NUM_THREADS": env.get("ACTION_BLAS_THREADS", "1")}


class Stack:
    """The demo backend, the action server and the Rasa server, started in that order."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        env = config.environment()
        self.env = env  # what the processes were started with, secrets included (tests read them)
        logs = config.var_dir / "logs"
        token = env["RASA_API_TOKEN"]
        # Rasa's HTTP API needs the token; browsers may call it only from the store's origins
        rasa_cmd = rasa_command(
            "run", "--enable-api", "--auth-token", token,
            "--cors", *site_origins(env),
            "--port", str(config.rasa_port), "--interface", "127.0.0.1",
            "--model", str(config.model), "--endpoints", env.get("RASA_ENDPOINTS", "endpoints.yml"),
            "--credentials", env.get("RASA_CREDENTIALS", "credentials.yml"),
        )
        self.services = [
            Service("demo backend", [str(APP_PY), "-m", "demo_backend"], f"{config.backend_url}/health", env, logs / "backend.log", 60),
            Service("action server", [str(APP_PY), "-m", "actions.server"], f"http://127.0.0.1:{config.action_port}/health",
                    action_env(env), logs / "actions.log", 120),
            Service(
                "rasa server", rasa_cmd,
                f"{config.rasa_url}/status" + (f"?token={token}" if token else ""), rasa_env(env), logs / "rasa.log", 240,
            ),
        ]

    def start(self, verbose: bool = True) -> None:
        try:
            for service in self.services:
                if verbose:
                    print(f"  starting {service.name} ... ", end="", flush=True)
                started = time.monotonic()
                service.start()
                service.wait_healthy()
                if verbose:
                    print(f"up in {time.monotonic() - started:.1f}s ({service.health_url.rsplit('/', 1)[0]})", flush=True)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--backend-port", type=int, default=int(os.environ.get("BACKEND_PORT", 8000)))
    parser.add_argument("--action-port", type=int, default=int(os.environ.get("ACTION_SERVER_PORT", 5055)))
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    args = parser.parse_args(argv)
    stack = Stack(StackConfig(args.backend_port, args.action_port, args.rasa_port))
    print("Starting the Brightcart support assistant (logs in var/logs/):")
    stopping = False

    def on_signal(signum, _frame):  # Ctrl-C or a TERM from a supervisor
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        cfg = stack.config
        print(
            "\nReady. Talk to the assistant:\n"
            f"  web chat:   {cfg.backend_url}/?customer=C0001   (the demo store page with the chat widget)\n"
            f"  REST:       curl -s {cfg.rasa_url}/webhooks/rest/webhook -H 'Content-Type: application/json' "
            "-d '{\"sender\": \"me\", \"message\": \"where is my order BC-100002\"}'\n"
            "  terminal:   make shell   (in another terminal)\n"
            f"  secrets:    {cfg.var_dir / 'secrets.env'} (API tokens and keys; docs/security.md)\n"
            "Press Ctrl-C to stop all three processes.",
            flush=True,
        )
        while True:
            for service in stack.services:
                if service.process and service.process.poll() is not None:
                    print(f"\n{service.name} stopped unexpectedly (exit {service.process.returncode}):\n{service.tail()}")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    except RuntimeError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        print("All processes stopped.")


if __name__ == "__main__":
    sys.exit(main())
