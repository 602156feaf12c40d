"""The run log's time format: UTC ISO-8601 with milliseconds and a ``Z``.

Fixed width, so the stored strings sort as times and SQL can compare them as text; a
user's bounds ("2025-06-01", "2025-06-01T09:30") are converted to the same format.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from captioner.errors import InvalidRequest

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> str:
    return format_time(dt.datetime.now(dt.UTC))


def format_time(moment: dt.datetime) -> str:
    """``moment`` in the stored format; a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.strftime(_FORMAT)[:-4] + "Z"  # microseconds -> milliseconds


def parse_time(value: str | dt.datetime | dt.date, *, end_of_day: bool = False) -> str:
    """A user's time bound as the stored format. Naive times are UTC; a bare date means the
    start of that day, or the start of the next one with ``end_of_day`` (an inclusive "until")."""
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return format_time(moment + dt.timedelta(days=1) if end_of_day else moment)
    text = str(value).strip()
    try:
        if is_date(text):
            return parse_time(dt.date.fromisoformat(text), end_of_day=end_of_day)
        return format_time(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidRequest(
            f"날짜/시각 '{text}' 을(를) 읽을 수 없습니다. 예: 2025-06-01 또는 2025-06-01T09:30",
            f"Cannot read the date/time '{text}'. Example: 2025-06-01 or 2025-06-01T09:30",
        ) from None


def is_date(value: Any) -> bool:
    """Whether a bound is a whole day (``until`` then includes that day)."""
    if isinstance(value, dt.datetime):
        return False
    return isinstance(value, dt.date) or len(str(value).strip()) == 10
