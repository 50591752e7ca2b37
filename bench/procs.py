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
from typing import Dict, List

from scripts.stack import Service

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
class Server(Service):
    """A benchmarked process: the stack's Service (start, health check, stop) plus memory use."""

    startup_timeout: float = 300.0

    @property
    def pgid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def memory(self) -> Dict[str, float]:
        return memory_mb(self.pgid)
