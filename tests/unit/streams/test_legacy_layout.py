"""Recognising the old three-table layout."""

from __future__ import annotations

from streams.legacy_layout import legacy_changelogs


def test_the_old_layout_is_the_old_tables_the_worker_no_longer_has() -> None:
    old = ("dedupe", "key-locks", "payments")

    assert legacy_changelogs("p-g", old) == []
    assert legacy_changelogs("p-g", ("payment-state",)) == [
        "p-g-dedupe-changelog",
        "p-g-key-locks-changelog",
        "p-g-payments-changelog",
    ]
