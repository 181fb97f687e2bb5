"""Content-Type check and the streaming body limit."""

from collections.abc import AsyncIterator

import pytest

from ingress.body import check_content_type, read_body
from ingress.errors import PayloadTooLarge, UnsupportedMediaType


@pytest.mark.parametrize(
    "value",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "application/json; boundary=x",
    ],
)
def test_json_is_accepted(value: str) -> None:
    assert check_content_type(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "text/plain",
        "application/jsonx",
        "application/json; charset=latin-1",
        "multipart/form-data",
    ],
)
def test_anything_else_is_refused(value: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        check_content_type(value)


async def chunks(*parts: bytes, consumed: list[int] | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        if consumed is not None:
            consumed.append(len(part))
        yield part


async def test_a_body_at_the_limit_is_read_whole() -> None:
    assert await read_body(chunks(b"ab", b"cd"), limit=4, content_length="4") == b"abcd"


async def test_an_announced_length_over_the_limit_is_refused_before_reading() -> None:
    consumed: list[int] = []
    with pytest.raises(PayloadTooLarge):
        await read_body(chunks(b"x", consumed=consumed), limit=4, content_length="5")
    assert consumed == []


async def test_an_understated_body_is_cut_off_at_the_limit() -> None:
    consumed: list[int] = []
    parts = (b"abc", b"de", b"never read")
    with pytest.raises(PayloadTooLarge):
        await read_body(chunks(*parts, consumed=consumed), limit=4, content_length="1")
    assert consumed == [3, 2]
