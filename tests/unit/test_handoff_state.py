"""Handoff rules as pure functions: allowed requests, the loop guard, support hours, views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chains.handoff import state as rules

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a Friday


def test_requests_only_from_bot_or_resolved() -> None:
    for state in ("bot", "resolved"):
        assert rules.may_escalate({"state": state}, explicit=True, at=AT)
    for state in ("waiting", "with_agent"):
        assert not rules.may_escalate({"state": state}, explicit=True, at=AT)
        assert not rules.may_escalate({"state": state}, explicit=False, at=AT)


def test_loop_guard_blocks_only_the_bots_own_rule_right_after_a_release() -> None:
    just = {"state": "resolved", "released_at": AT - timedelta(minutes=5)}
    assert not rules.may_escalate(just, explicit=False, at=AT)
    assert rules.may_escalate(just, explicit=True, at=AT)  # the customer asking always counts
    back = {"state": "bot", "released_at": (AT - timedelta(minutes=5)).isoformat()}
    assert not rules.may_escalate(back, explicit=False, at=AT)  # stored as text by nx-27017
    old = {"state": "resolved", "released_at": AT - rules.LOOP_GUARD - timedelta(seconds=1)}
    assert rules.may_escalate(old, explicit=False, at=AT)
    assert rules.may_escalate({"state": "bot"}, explicit=False, at=AT)


def test_held_states_silence_the_bot() -> None:
    def doc(state: str) -> dict[str, object]:
        return {"metadata": {"handoff": {"state": state}}}

    assert [rules.is_held(doc(s)) for s in rules.STATES] == [False, True, True, False]
    assert not rules.is_held({"metadata": {}})  # never handed off
    # Queued by the bot's own rule: the bot keeps answering until an agent claims it.
    queued = {"metadata": {"handoff": {"state": "waiting", "explicit": False}}}
    assert not rules.is_held(queued)


def test_support_hours() -> None:
    office = {"timezone": "Europe/Berlin", "days": ["mon", "fri"], "start": "09:00", "end": "17:00"}
    assert rules.within_hours(office, AT)  # 13:00 in Berlin on a Friday
    assert not rules.within_hours(office, AT + timedelta(hours=5))  # 18:00
    assert not rules.within_hours(office, AT + timedelta(days=1))  # Saturday
    night = {"timezone": "UTC", "days": ["fri"], "start": "22:00", "end": "06:00"}
    assert rules.within_hours(night, AT.replace(hour=23))
    assert rules.within_hours(night, AT.replace(hour=3) + timedelta(days=1))  # Sat 03:00
    assert not rules.within_hours(night, AT.replace(hour=3))  # Fri 03:00 is Thursday's night
    assert rules.within_hours(None, AT)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"timezone": "Mars/Base"}, "time zone"),
        ({"days": ["funday"]}, "days"),
        ({"start": "9am"}, "HH:MM"),
        ({"start": "10:00", "end": "10:00"}, "same time"),
    ],
)
def test_bad_hours_say_what_is_wrong(hours: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rules.check_hours(hours)


def test_view_hides_the_email_and_names_the_agent_only_while_held() -> None:
    doc = {
        "metadata": {
            "handoff": {"state": "with_agent", "email": "sealed", "reason": "r"},
            "assigned_agent": {"user_id": "a1", "name": "Sam"},
        }
    }
    view = rules.view(doc)
    assert view["assigned_agent"] == {"user_id": "a1", "name": "Sam"}
    assert view["email_collected"] is True and "email" not in view
    doc["metadata"]["handoff"]["state"] = "resolved"  # type: ignore[index]
    assert rules.view(doc)["assigned_agent"] is None
