"""Reporting periods and event bucket keys: the labels the dashboard groups by must agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chains.analytics.events import bucket_keys, normalize_question, rt_bin
from chains.analytics.periods import Period, period_from_query
from loaders.errors import InvalidInput


def test_buckets_cross_year_and_match_event_labels() -> None:
    p = period_from_query("2025-11-15", "2026-02-01", "month")
    labels = [label for label, _ in p.buckets()]
    assert labels == ["2025-11", "2025-12", "2026-01", "2026-02"]
    for label, start in p.buckets():
        assert bucket_keys(start)["month"] == label
        assert bucket_keys(start + timedelta(days=27))["month"] == label


def test_week_is_labelled_by_its_monday() -> None:
    sunday = datetime(2025, 3, 9, 23, 59, tzinfo=UTC)
    assert bucket_keys(sunday)["week"] == "2025-03-03"
    p = period_from_query("2025-03-05", "2025-03-12", "week")
    assert [label for label, _ in p.buckets()] == ["2025-03-03", "2025-03-10"]


def test_offsets_and_bare_dates() -> None:
    p = period_from_query("2025-03-03T10:00:00+02:00", "2025-03-03", "hour")
    assert p.start == datetime(2025, 3, 3, 8, tzinfo=UTC)
    assert p.end == datetime(2025, 3, 4, tzinfo=UTC)  # a bare end date includes the day
    unencoded = period_from_query("2025-03-03T10:00:00 02:00", None, "day", now=p.end)
    assert unencoded.start == p.start
    assert Period(p.start, p.end).ts_range["$lt"] - Period(p.start, p.end).ts_range["$gte"] == (
        16 * 3600 * 1000
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("2025-02-30", None, "day"), "INVALID_DATE"),
        (("2025-03-04", "2025-03-03T12:00:00Z", "day"), "INVALID_RANGE"),
        (("2025-01-01", "2025-02-15", "hour"), "RANGE_TOO_LARGE"),
        ((None, None, "quarter"), "INVALID_GRANULARITY"),
    ],
)
def test_invalid_periods(args: tuple[str | None, str | None, str], code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        period_from_query(*args)
    assert err.value.code == code and err.value.status == 422


def test_rt_bins_are_monotonic_and_questions_normalize() -> None:
    values = [0, 0.5, 1, 9.9, 10, 250, 251, 10_000, 10_500]
    bins = [rt_bin(v) for v in values]
    assert bins == sorted(bins) and rt_bin(1000) != rt_bin(1100)
    assert normalize_question("  How do I RESET my router?! ") == "how do i reset my router"
