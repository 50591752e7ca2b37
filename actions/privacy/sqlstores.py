"""The tables of Rasa's SQL tracker store and SQL event broker, for SQLite and PostgreSQL.

Rasa's ``SQLTrackerStore`` (and ``rasa_addons.sqlite_stores.SQLiteTrackerStore``, same rows) keeps
every event in ``events (id, sender_id, type_name, timestamp, intent_name, action_name, data)``;
a slot event has ``type_name = 'slot'`` and the slot's name in ``action_name``. Rasa's
``SQLEventBroker`` appends ``events (id, sender_id, data)`` in its own database. ``data`` is the
event's JSON in both.

Everything here runs on a connection it is handed, wrapped in :class:`Sql`: a ``sqlite3`` or
``psycopg`` connection (the action server, the retention command) or an SQLAlchemy connection
(inside Rasa, ``rasa_addons/privacy_endpoint.py``). Standard library only, so both Python
environments import it. Statements are written once with ``:name`` parameters.

The broker table is read by the audit consumer by id (``id > position``). SQLite gives a new row
``max(id) + 1`` (no AUTOINCREMENT in Rasa's table), so deleting the newest rows would hand their
ids out again and the consumer would skip the new events. The newest row is therefore never
deleted: it is overwritten with a tombstone (``sender_id`` NULL, ``{"event": "erased"}``), which
the consumer ignores (no sender). PostgreSQL uses a sequence; nothing is reused there.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

TOMBSTONE = json.dumps({"event": "erased"})
CHUNK = 400  # parameters per IN (...) list: below SQLite's oldest limit (999)


class Sql:
    """One connection, one dialect: ``all`` for rows, ``run`` for a statement's row count."""

    def __init__(self, connection: Any, dialect: Optional[str] = None) -> None:
        self.connection = connection
        self.dialect = dialect or _dialect_of(connection)
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported SQL dialect {self.dialect!r} (sqlite or postgresql)")

    def _execute(self, sql: str, params: Dict[str, Any]) -> Any:
        if _is_sqlalchemy(self.connection):
            import sqlalchemy as sa

            return self.connection.execute(sa.text(sql), params)
        if self.dialect == "postgresql":  # psycopg: %(name)s
            return self.connection.execute(re.sub(r":(\w+)", r"%(\1)s", sql), params)
        return self.connection.execute(sql, params)  # sqlite3 takes :name as it is

    def all(self, sql: str, params: Optional[Dict[str, Any]] = None) -> List[Tuple[Any, ...]]:
        return [tuple(row) for row in self._execute(sql, params or {}).fetchall()]

    def run(self, sql: str, params: Optional[Dict[str, Any]] = None) -> int:
        result = self._execute(sql, params or {})
        return max(0, int(getattr(result, "rowcount", 0) or 0))

    def has_table(self, table: str) -> bool:
        if self.dialect == "sqlite":
            return bool(self.all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t", {"t": table}))
        return bool(self.all("SELECT 1 FROM information_schema.tables WHERE table_name = :t "
                             "AND table_schema = current_schema()", {"t": table}))


def _is_sqlalchemy(connection: Any) -> bool:
    return type(connection).__module__.startswith("sqlalchemy")


def _dialect_of(connection: Any) -> str:
    if _is_sqlalchemy(connection):
        return connection.dialect.name
    module = type(connection).__module__
    if module.startswith("sqlite3"):
        return "sqlite"
    if module.startswith("psycopg"):
        return "postgresql"
    raise ValueError(f"cannot tell the SQL dialect of {type(connection)!r}")


def in_list(values: Sequence[Any], prefix: str = "v") -> Tuple[str, Dict[str, Any]]:
    """``(:v0, :v1, ...)`` and its parameters."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    return "(" + ", ".join(f":{n}" for n in names) + ")", dict(zip(names, values))


def chunks(values: Iterable[Any], size: int = CHUNK) -> Iterable[List[Any]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _loads(data: Any) -> Dict[str, Any]:
    try:
        value = json.loads(data) if isinstance(data, (str, bytes)) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _is_customer_event(event: Dict[str, Any], customer_id: Optional[str], phones: Set[str]) -> bool:
    """A ``customer_id`` slot set to the customer, or a customer message from one of their phones."""
    if customer_id and event.get("event") == "slot" and event.get("name") == "customer_id":
        return str(event.get("value") or "") == customer_id
    if phones and event.get("event") == "user":
        metadata = event.get("metadata") or {}
        proven = metadata.get("identity") if isinstance(metadata.get("identity"), dict) else {}
        # the channels' signed statement of the number (common/attestation.py), or older plain fields
        return any(str(source.get(key) or "") in phones for source in (proven, metadata) for key in ("phone", "from_phone"))
    return False


def _candidates(db: Sql, customer_id: Optional[str], phones: Set[str], tracker: bool) -> Set[str]:
    found: Set[str] = set()
    patterns: List[Tuple[str, str]] = []
    if customer_id:
        patterns.append(("slot", customer_id))
    patterns += [("user", phone) for phone in phones]
    for kind, needle in patterns:
        like = "%" + needle.replace("%", "").replace("_", "") + "%"
        if tracker:  # type_name and action_name narrow it down (sender_id is indexed, these are not)
            if kind == "slot":
                sql = ("SELECT sender_id, data FROM events WHERE type_name = 'slot' "
                       "AND action_name = 'customer_id' AND data LIKE :like")
            else:
                sql = "SELECT sender_id, data FROM events WHERE type_name = 'user' AND data LIKE :like"
        else:
            sql = "SELECT sender_id, data FROM events WHERE sender_id IS NOT NULL AND data LIKE :like"
        for sender_id, data in db.all(sql, {"like": like}):
            if _is_customer_event(_loads(data), customer_id, phones):
                found.add(str(sender_id))
    if phones:  # SMS conversations are keyed by the number itself
        clause, params = in_list(sorted(phones))
        for (sender_id,) in db.all(f"SELECT DISTINCT sender_id FROM events WHERE sender_id IN {clause}", params):
            found.add(str(sender_id))
    return found


def tracker_conversations(db: Sql, customer_id: Optional[str], phones: Iterable[str] = ()) -> Set[str]:
    """Conversation ids in the tracker store whose events show this customer."""
    return _candidates(db, customer_id, {p for p in phones if p}, tracker=True)


def broker_conversations(db: Sql, customer_id: Optional[str], phones: Iterable[str] = ()) -> Set[str]:
    """The same, in the SQL event broker's table (it has only sender_id and data)."""
    return _candidates(db, customer_id, {p for p in phones if p}, tracker=False)


def delete_tracker_conversations(db: Sql, sender_ids: Iterable[str]) -> int:
    """Delete every event of these conversations from the tracker store; rows deleted."""
    deleted = 0
    for group in chunks(sorted(set(sender_ids))):
        clause, params = in_list(group)
        deleted += db.run(f"DELETE FROM events WHERE sender_id IN {clause}", params)
    return deleted


def _top_id(db: Sql) -> Optional[int]:
    row = db.all("SELECT max(id) FROM events")
    return None if not row or row[0][0] is None else int(row[0][0])


def _tombstone_top(db: Sql, top: Optional[int], where: str, params: Dict[str, Any]) -> int:
    """Overwrite the newest row if it matches ``where`` (SQLite: its id must not be handed out again)."""
    if top is None or db.dialect != "sqlite":
        return 0
    return db.run(f"UPDATE events SET sender_id = NULL, data = :tombstone WHERE id = :top AND ({where})",
                  {**params, "top": top, "tombstone": TOMBSTONE})


def delete_broker_conversations(db: Sql, sender_ids: Iterable[str]) -> int:
    """Delete these conversations' rows from the SQL event broker's table; rows removed."""
    top = _top_id(db)
    removed = 0
    for group in chunks(sorted(set(sender_ids))):
        clause, params = in_list(group)
        removed += _tombstone_top(db, top, f"sender_id IN {clause}", params)
        keep = "AND id <> :top" if top is not None and db.dialect == "sqlite" else ""
        removed += db.run(f"DELETE FROM events WHERE sender_id IN {clause} {keep}", {**params, "top": top})
    return removed


def expired_conversations(db: Sql, cutoff: float) -> List[str]:
    """Conversations in the tracker store whose latest event is older than ``cutoff`` (epoch s)."""
    rows = db.all("SELECT sender_id FROM events GROUP BY sender_id HAVING max(timestamp) < :cutoff",
                  {"cutoff": float(cutoff)})
    return sorted(str(row[0]) for row in rows)


def still_expired(db: Sql, sender_id: str, cutoff: float) -> bool:
    """True if the conversation has no event from ``cutoff`` on (checked again under its lock)."""
    row = db.all("SELECT max(timestamp) FROM events WHERE sender_id = :s", {"s": sender_id})
    latest = row[0][0] if row else None
    return latest is not None and float(latest) < float(cutoff)


def delete_broker_batch(db: Sql, cutoff: float, after: int, top: Optional[int], batch: int = 2000) -> Tuple[int, Optional[int]]:
    """One batch of ``delete_broker_before``: rows with id > ``after``; (rows removed, last id read,
    None when there are no more rows). ``top`` is the table's newest id when the run started."""
    rows = db.all("SELECT id, data FROM events WHERE id > :after ORDER BY id LIMIT :n", {"after": after, "n": batch})
    if not rows:
        return 0, None
    old = []
    for row_id, data in rows:
        event = _loads(data)
        ts = event.get("timestamp")
        if event.get("event") != "erased" and isinstance(ts, (int, float)) and ts < cutoff:
            old.append(int(row_id))
    removed = 0
    for group in chunks(old):
        clause, params = in_list(group)
        removed += _tombstone_top(db, top, f"id IN {clause}", params)
        keep = "AND id <> :top" if top is not None and db.dialect == "sqlite" else ""
        removed += db.run(f"DELETE FROM events WHERE id IN {clause} {keep}", {**params, "top": top})
    return removed, int(rows[-1][0])


def broker_top_id(db: Sql) -> Optional[int]:
    return _top_id(db)


def delete_broker_before(db: Sql, cutoff: float, batch: int = 2000) -> int:
    """Delete broker rows whose event is older than ``cutoff`` (the table has no timestamp column:
    the events' own ``timestamp`` decides). The newest row becomes a tombstone on SQLite."""
    top = _top_id(db)
    removed, after = 0, 0
    while True:
        count, last = delete_broker_batch(db, cutoff, after, top, batch)
        removed += count
        if last is None:
            return removed
        after = last
