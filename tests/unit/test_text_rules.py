"""The text rules (lone surrogates, control characters) and the one API timestamp format."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.envelope import format_timestamp, jsonable
from app.text_guard import check_body, check_query
from loaders.ingest_options import IngestOptions
from loaders.text_checks import InvalidText, TreeCleaner, check_text

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
UNICODE = "Café 😀 東京 שלום مرحبا naïve ﬁ"


def test_lone_surrogates_are_refused_in_every_kind_of_field() -> None:
    for free in (True, False):
        with pytest.raises(InvalidText) as err:
            check_text("ok \ud800 no", "message", free_text=free)
        assert err.value.code == "INVALID_TEXT" and err.value.status == 422
        assert err.value.details == {"field": "message", "reason": "lone_surrogate", "position": 3}
        assert "U+D800" in err.value.message


def test_control_characters_stripped_from_free_text_refused_elsewhere() -> None:
    raw = "a\x00b\x07c\x1bd\x7fe\x85f\x9fg\tkeep\nlines\r"
    assert check_text(raw, "message", free_text=True) == "abcdefg\tkeep\nlines\r"
    with pytest.raises(InvalidText) as err:
        check_text("bob\x00@example.com", "email", free_text=False)
    assert err.value.details["reason"] == "control_character"
    assert err.value.details["position"] == 3
    assert check_text(UNICODE, "full_name", free_text=False) == UNICODE


def test_tree_cleaner_uses_the_field_name_and_checks_keys() -> None:
    cleaner = TreeCleaner()
    body = {"input": {"question": "hi\x00"}, "texts": ["a\x01", "b"], "tags": ["ok"]}
    assert cleaner.clean(body) == {"input": {"question": "hi"}, "texts": ["a", "b"], "tags": ["ok"]}
    assert cleaner.stripped == 2
    with pytest.raises(InvalidText) as err:
        TreeCleaner().clean({"config": {"configurable": {"session_id": "x\x00"}}})
    assert err.value.details["field"] == "config.configurable.session_id"
    with pytest.raises(InvalidText):
        TreeCleaner().clean({"k\ud800": 1})


def test_body_check_rewrites_only_when_it_stripped_something() -> None:
    assert check_body("json", json.dumps({"message": UNICODE}).encode()) is None
    assert check_body("json", json.dumps({"message": UNICODE}, ensure_ascii=False).encode()) is None
    out = check_body("json", b'{"message": "hi\\u0000 there", "n": 1.5}')
    assert out is not None and json.loads(out) == {"message": "hi there", "n": 1.5}
    with pytest.raises(InvalidText):
        check_body("json", b'{"message": "\\ud800"}')
    with pytest.raises(InvalidText) as err:
        check_body("json", b'{"message": "\xed\xa0\x80"}')  # CESU-8 surrogate: not UTF-8
    assert err.value.details["reason"] == "not_utf8"
    assert check_body("json", b'{"broken": ') is None  # the route reports malformed JSON
    with pytest.raises(InvalidText):
        check_body("form", b"email=a%00b%40example.com&password=x")
    with pytest.raises(InvalidText):
        check_query(b"tag=x%1by")
    check_query(b"tag=caf%C3%A9&q=%E6%9D%B1")


def test_ingest_options_strip_descriptions_and_refuse_bad_names() -> None:
    opts = IngestOptions(filename="a.md", description="Line one\x00.", title="Guide ✓")
    opts.validated(max_tokens=256)
    assert opts.description == "Line one." and opts.title == "Guide ✓"
    for field in ("title", "category", "author"):
        with pytest.raises(InvalidText) as err:
            IngestOptions(filename="a.md", **{field: "x\x07"}).validated(max_tokens=256)
        assert err.value.details["field"] == field
    with pytest.raises(InvalidText):
        IngestOptions(filename="a.md", tags=["ok", "\ud800"]).validated(max_tokens=256)


def test_every_timestamp_shape_becomes_one_format() -> None:
    plus2 = timezone(timedelta(hours=2))
    data = jsonable(
        {
            "created_at": datetime(2026, 12, 3, 14, 23, 22, tzinfo=UTC),
            "updated_at": "2026-12-03 14:23:22.044000",  # nx-27017's $set datetime
            "nested": [{"at": "2026-12-03T14:23:22Z", "timestamp": datetime(2026, 1, 1)}],
            "expires_at": datetime(2026, 12, 3, 16, 0, tzinfo=plus2),
            "content": "2026-12-03 14:23:22",  # user text under a non-timestamp key: untouched
            "start": "2026-12-01",  # a date is not a timestamp
        }
    )
    assert data["created_at"] == "2026-12-03T14:23:22.000000+00:00"
    assert data["updated_at"] == "2026-12-03T14:23:22.044000+00:00"
    assert data["nested"][0] == {
        "at": "2026-12-03T14:23:22.000000+00:00",
        "timestamp": "2026-01-01T00:00:00.000000+00:00",
    }
    assert data["expires_at"] == "2026-12-03T14:00:00.000000+00:00"
    assert data["content"] == "2026-12-03 14:23:22" and data["start"] == "2026-12-01"
    assert ISO_UTC.match(format_timestamp(datetime.now(UTC)))
