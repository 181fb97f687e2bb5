import pytest
from confluent_kafka import KafkaError, KafkaException
from sqlalchemy.exc import OperationalError

from ops.cli_errors import MAX_REASON, failure


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.internal:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:hunter2@db.internal/payments")


def test_a_broker_failure_names_the_broker_and_what_to_do() -> None:
    error = KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure"))
    known = failure(error)
    assert known is not None
    assert known.exit_code == 1
    assert known.line == (
        "error: the Kafka broker at kafka.internal:9092: Broker transport failure; check that "
        "it runs (`payments kafka start`) and KAFKA_BOOTSTRAP_SERVERS names it"
    )


def test_a_database_failure_hides_the_password_and_keeps_one_line() -> None:
    reason = "connection refused\n\tIs the server running?" + " and more" * 40
    known = failure(OperationalError("SELECT 1", {}, Exception(reason)))
    assert known is not None
    assert known.line is not None
    assert "\n" not in known.line
    assert "hunter2" not in known.line
    assert "app:***@db.internal" in known.line
    assert ": connection refused Is the server running? and more" in known.line
    assert len(known.line) < MAX_REASON + 200


def test_anything_else_is_a_bug_and_keeps_its_traceback() -> None:
    assert failure(ValueError("unexpected")) is None
