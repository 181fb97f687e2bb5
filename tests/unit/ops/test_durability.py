"""What counts as production durability, and how a report says it."""

from __future__ import annotations

import pytest

from ops.local_postgres import Durability


@pytest.mark.parametrize("synchronous_commit", ["on", "local", "remote_write", "remote_apply"])
def test_a_synchronous_commit_on_fsync_and_full_page_writes_is_production(
    synchronous_commit: str,
) -> None:
    durability = Durability("on", synchronous_commit, "on")

    assert durability.production
    assert durability.report().endswith("(production's)")


@pytest.mark.parametrize(
    "settings", [("off", "on", "on"), ("on", "off", "on"), ("on", "on", "off")]
)
def test_any_of_the_three_off_is_said_loudly(settings: tuple[str, str, str]) -> None:
    durability = Durability(*settings)

    assert not durability.production
    assert "NOT PRODUCTION DURABILITY" in durability.report()
