"""Date helpers. All date logic runs against the configured reference "today" (BACKEND_TODAY)
so that return windows, ETAs and renewal dates are reproducible in tests and demos."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone


class Clock:
    """The backend's notion of time: a fixed calendar day with the real time of day."""

    def __init__(self, today: date) -> None:
        self._today = today

    def today(self) -> date:
        return self._today

    def now(self) -> datetime:
        wall = datetime.now(timezone.utc)
        return datetime.combine(self._today, wall.time().replace(microsecond=0), tzinfo=timezone.utc)


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def iso_datetime(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day: date, hour: int = 12, minute: int = 0) -> str:
    """A seeded timestamp on ``day`` (UTC), as stored in the database."""
    return iso_datetime(datetime.combine(day, time(hour, minute), tzinfo=timezone.utc))


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def add_business_days(start: date, days: int) -> date:
    """``start`` plus ``days`` working days (Saturday and Sunday skipped)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def add_months(start: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's last day (Jan 31 + 1 -> Feb 28)."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)
