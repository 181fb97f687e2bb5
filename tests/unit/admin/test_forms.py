from datetime import UTC, datetime, timedelta, timezone

import pytest

from admin import forms
from admin.errors import ConsoleRefusal


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_field_is_no_filter(blank: str | None) -> None:
    assert forms.text(blank, "type") is None
    assert forms.provider(blank) is None
    assert forms.moment(blank, "since") is None
    assert forms.number(blank, "page") is None


def test_a_time_without_offset_is_utc() -> None:
    assert forms.moment("2026-12-02T06:40", "since") == datetime(2026, 12, 2, 6, 40, tzinfo=UTC)
    east = forms.moment("2026-12-02T08:40+02:00", "since")
    assert east == datetime(2026, 12, 2, 8, 40, tzinfo=timezone(timedelta(hours=2)))


def test_message_ids() -> None:
    assert forms.message_ids(["0:12", "3:4", "0:12"]) == {(0, 12), (3, 4)}


@pytest.mark.parametrize(
    ("parse", "message"),
    [
        (lambda: forms.provider("visa"), "provider"),
        (lambda: forms.status("paid"), "status"),
        (lambda: forms.moment("yesterday", "since"), "since"),
        (lambda: forms.moment("9999-12-31T23:59:59-23:59", "since"), "out of range in UTC"),
        (lambda: forms.number("-1", "page"), "page"),
        (lambda: forms.number("0", "page", low=1), "page"),
        (lambda: forms.text("a\x00b", "type"), "type"),
        (lambda: forms.text("x" * 256, "type"), "type"),
        (lambda: forms.message_ids(["1"]), "partition:offset"),
    ],
)
def test_malformed_input_is_a_400_that_names_the_field(parse: object, message: str) -> None:
    with pytest.raises(ConsoleRefusal) as refused:
        parse()  # type: ignore[operator]
    assert refused.value.status == 400
    assert message in refused.value.message
