"""The reporting period of an analytics query: parsing, validation, and its time buckets.

Dates are ISO 8601. A date without a time means the whole day: ``end_date=2026-01-31`` includes
January 31st. A time without an offset is UTC. The period is half-open, ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast, get_args

from chains.analytics.events import bucket_keys, epoch_ms
from loaders.errors import InvalidInput

Granularity = Literal["hour", "day", "week", "month"]
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
# Longest period per granularity: at most a few hundred buckets in a time series.
MAX_SPAN: dict[str, timedelta] = {
    "hour": timedelta(days=31),
    "day": timedelta(days=366),
    "week": timedelta(days=3 * 366),
    "month": timedelta(days=10 * 366),
}
DEFAULT_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    granularity: Granularity = "day"

    @property
    def ts_range(self) -> dict[str, int]:
        """The ``$match`` condition on an event's ``ts`` (epoch ms)."""
        return {"$gte": epoch_ms(self.start), "$lt": epoch_ms(self.end)}

    def buckets(self) -> Iterator[tuple[str, datetime]]:
        """Every bucket the period touches, as (label, bucket start), oldest first."""
        at = floor(self.start, self.granularity)
        while at < self.end:
            yield bucket_keys(at)[self.granularity], at
            at = step(at, self.granularity)

    def as_dict(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "granularity": self.granularity,
        }


def floor(at: datetime, granularity: str) -> datetime:
    at = at.astimezone(UTC)
    if granularity == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def step(at: datetime, granularity: str) -> datetime:
    if granularity == "month":
        return at.replace(year=at.year + at.month // 12, month=at.month % 12 + 1)
    return (
        at
        + {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}[
            granularity
        ]
    )


def parse_instant(value: str, *, name: str, end: bool = False) -> datetime:
    """An ISO 8601 date or date-time; a bare date as the end of a period includes that day."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            at = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return at + timedelta(days=1) if end else at
        # A '+' offset arrives as a space when the client did not URL-encode it.
        text = text[:11] + text[11:].replace(" ", "+")
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"'{name}' is not an ISO 8601 date or date-time: {value!r}.",
            code="INVALID_DATE",
            details={"field": name},
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def period_from_query(
    start_date: str | None,
    end_date: str | None,
    granularity: str | None,
    *,
    now: datetime | None = None,
) -> Period:
    """Validate the query parameters (422 with a stable code) and build the period.

    Defaults: the last 7 days, by day.
    """
    grain = granularity or "day"
    if grain not in GRANULARITIES:
        raise InvalidInput(
            f"granularity must be one of {', '.join(GRANULARITIES)}.",
            code="INVALID_GRANULARITY",
            details={"field": "granularity"},
        )
    end = parse_instant(end_date, name="end_date", end=True) if end_date else None
    start = parse_instant(start_date, name="start_date") if start_date else None
    end = end or (now or datetime.now(UTC))
    start = start or end - DEFAULT_SPAN
    if end <= start:
        raise InvalidInput(
            "end_date must be after start_date.",
            code="INVALID_RANGE",
            details={"field": "end_date"},
        )
    if end - start > MAX_SPAN[grain]:
        days = MAX_SPAN[grain].days
        raise InvalidInput(
            f"A period by {grain} may span at most {days} days; use a coarser granularity.",
            code="RANGE_TOO_LARGE",
            details={"max_days": days, "granularity": grain},
        )
    return Period(start, end, cast(Granularity, grain))
