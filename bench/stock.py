"""The reference: the bot that ``rasa init --no-prompt`` creates, untouched.

It is built (scaffolded and trained) once per Rasa version in a cache folder outside the project
(``$BENCH_CACHE``, default ``~/.cache/brightcart-bench``) and reused by later runs; the time
``rasa init --no-prompt`` took (almost all of it ``rasa train``; scaffolding copies a handful of
files) is stored beside it. Stock init has no custom actions, so it runs without an action server,
with its default in-memory tracker store and lock store, as ``rasa init`` leaves it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from bench.procs import ROOT, RASA_BIN, Server

CACHE = Path(os.environ.get("BENCH_CACHE") or Path.home() / ".cache" / "brightcart-bench")


def rasa_version() -> str:
    out = subprocess.run(
        [str(RASA_BIN.parent / "python"), "-c", "import rasa; print(rasa.__version__)"],
        capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def quiet_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"})
    for key in ("PYTHONPATH", "ACTION_SERVER_URL", "RASA_TRACKER_DB", "RASA_EVENTS_DB"):
        env.pop(key, None)
    return env


def build(force: bool = False, log=print) -> Dict[str, object]:
    """The stock project folder for this Rasa version, scaffolded and trained if not cached."""
    version = rasa_version()
    folder = CACHE / f"stock-rasa-{version}"
    meta_path = folder / "bench_meta.json"
    if meta_path.exists() and not force and list((folder / "models").glob("*.tar.gz")):
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return meta
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"stock-rasa-{version}-", dir=CACHE))
    log(f"  building stock `rasa init --no-prompt` bot (rasa {version}) in {staging} ...")
    started = time.monotonic()
    result = subprocess.run(
        [str(RASA_BIN), "init", "--no-prompt", "--init-dir", str(staging)],
        cwd=staging, env=quiet_env(), capture_output=True, text=True,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0 or not list((staging / "models").glob("*.tar.gz")):
        (CACHE / "stock-init.log").write_text(result.stdout + result.stderr)
        raise RuntimeError(f"rasa init failed (exit {result.returncode}); see {CACHE / 'stock-init.log'}")
    meta = {"rasa_version": version, "folder": str(folder), "train_seconds": round(seconds, 1),
            "train_command": "rasa init --no-prompt (scaffold + rasa train)",
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (staging / "bench_meta.json").write_text(json.dumps(meta, indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    meta["cached"] = False
    log(f"  stock bot trained in {seconds:.0f}s")
    return meta


def server(folder: Path, port: int, logs: Path, workers: int = 1) -> Server:
    cmd: List[str] = [
        str(RASA_BIN), "run", "--enable-api", "--port", str(port), "--interface", "127.0.0.1",
        "--model", "models", "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
    ]
    env = quiet_env()
    env["SANIC_WORKERS"] = str(workers)
    return Server("stock rasa", cmd, f"http://127.0.0.1:{port}/status", env, logs / "stock_rasa.log", cwd=folder)


def time_training(folder: Path, log=print) -> Optional[float]:
    """Re-time ``rasa train --force`` of the cached stock bot (into a throwaway folder)."""
    out = Path(tempfile.mkdtemp(prefix="stock-train-"))
    try:
        started = time.monotonic()
        result = subprocess.run(
            [str(RASA_BIN), "train", "--force", "--out", str(out)], cwd=folder, env=quiet_env(), capture_output=True, text=True
        )
        if result.returncode != 0:
            log(f"  stock rasa train failed: {result.stderr[-400:]}")
            return None
        return round(time.monotonic() - started, 1)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    print(build())
    _ = ROOT
