"""Processes under test: start/stop a server in its own process group, and its resident memory.

Memory is read from ``/proc/<pid>/status`` (VmRSS, VmHWM) for every process in the server's
process group (Sanic workers, Rasa's child processes), so psutil is not needed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PY = ROOT / ".venv" / "bin" / "python"


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def group_pids(pgid: int) -> List[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid:  # field 5 of /proc/pid/stat: process group
                pids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def memory_mb(pgid: int) -> Dict[str, float]:
    """Resident memory of a process group: now (sum of VmRSS) and the largest peak (VmHWM)."""
    pids = group_pids(pgid)
    rss = sum(_status_kb(pid, "VmRSS") for pid in pids)
    hwm = sum(_status_kb(pid, "VmHWM") for pid in pids)
    return {"rss_mb": round(rss / 1024, 1), "peak_mb": round(hwm / 1024, 1), "processes": len(pids)}


@dataclass
class Server:
    name: str
    command: List[str]
    health_url: str
    env: Dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    startup_timeout: float = 300.0
    process: Optional[subprocess.Popen] = None
    _log: object = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not healthy within {self.startup_timeout:.0f}s; see {self.log_path}")

    @property
    def pgid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def memory(self) -> Dict[str, float]:
        return memory_mb(self.pgid)

    def stop(self, timeout: float = 20.0) -> None:
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
