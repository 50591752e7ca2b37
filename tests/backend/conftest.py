"""Fixtures for the demo backend tests: the real backend as a subprocess on a free port.

``backend`` is shared by the whole session: tests using it must only read, or change records
that no other test looks at. ``mutable_backend`` is a separate instance per test module for the
tests that change the well-known fixtures.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.backend_process import BackendProcess, start_backend  # noqa: E402


@pytest.fixture(scope="session")
def backend() -> Iterator[BackendProcess]:
    process = start_backend()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def mutable_backend() -> Iterator[BackendProcess]:
    process = start_backend()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api(backend: BackendProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.url, timeout=10, headers=backend.headers(admin=True)) as client:
        yield client


@pytest.fixture(scope="module")
def mapi(mutable_backend: BackendProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mutable_backend.url, timeout=10, headers=mutable_backend.headers(admin=True)) as client:
        yield client
