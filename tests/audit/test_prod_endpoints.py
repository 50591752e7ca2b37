"""endpoints.prod.yml builds Rasa's production stores: PostgreSQL tracker store, Redis lock store,
and a pika broker whose queue really receives the events (the audit's production source)."""
from __future__ import annotations

import json
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = r'''
import asyncio, json, os, sys
import pika
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain

async def main():
    endpoints = read_endpoints_from_path("endpoints.prod.yml")
    broker = await EventBroker.create(endpoints.event_broker)
    store = TrackerStore.create(endpoints.tracker_store, Domain.load("domain.yml"), broker)
    lock = LockStore.create(endpoints.lock_store)
    broker.publish({"sender_id": "prod-check", "event": "user", "text": "hello", "timestamp": 1.0})
    await asyncio.sleep(1.0)
    await broker.close()
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    channel = connection.channel()
    _, _, body = channel.basic_get(os.environ["RABBITMQ_QUEUE"], auto_ack=True)
    channel.queue_delete(os.environ["RABBITMQ_QUEUE"])
    connection.close()
    print(json.dumps({"broker": type(broker).__name__, "tracker_store": type(store).__name__,
                      "lock_store": type(lock).__name__, "message": json.loads(body) if body else None}))

asyncio.run(main())
'''


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not all(_port_open(p) for p in (5432, 6379, 5672)), reason="PostgreSQL, Redis or RabbitMQ not running locally")
def test_production_endpoints_publish_events_to_rabbitmq(tmp_path: Path) -> None:
    queue = f"audit_test_{uuid.uuid4().hex[:8]}"
    env = {
        "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook", "ACTION_SERVER_TOKEN": "test-token", "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "5432",
        "POSTGRES_DB": "test", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "", "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379", "REDIS_PASSWORD": "", "REDIS_DB": "5", "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": "5672",
        "RABBITMQ_USERNAME": "guest", "RABBITMQ_PASSWORD": "guest", "RABBITMQ_QUEUE": queue, "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run([str(RASA_PY), "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["broker"] == "PikaEventBroker" and result["tracker_store"] == "SQLTrackerStore"
    assert result["lock_store"] == "RedisLockStore"
    assert result["message"]["sender_id"] == "prod-check" and result["message"]["event"] == "user"
