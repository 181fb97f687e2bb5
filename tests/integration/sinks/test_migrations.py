"""The migrations build exactly the tables the sink's code declares, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sinks.database import make_engine
from sinks.migrate import alembic_config, current_revision, upgrade
from sinks.tables import metadata


def test_upgrade_reaches_head_twice_and_matches_the_tables(sink_database_url: str) -> None:
    upgrade(sink_database_url)
    upgrade(sink_database_url)  # a second run (another replica starting) changes nothing

    head = ScriptDirectory.from_config(alembic_config(sink_database_url)).get_current_head()
    assert current_revision(sink_database_url) == head
    engine = make_engine(sink_database_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert diff == []
