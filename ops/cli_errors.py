"""What `payments` prints when a verb cannot do its job because the broker or the database
does not answer, a local service does not start, or an argument or setting is wrong: one
line saying what failed and what to do. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import typer
from aiokafka.errors import KafkaConnectionError
from confluent_kafka import KafkaError, KafkaException
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

# typer carries its own click: its usage errors are these, not the `click` package's.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from common.settings import PipelineSettings
from ops.local_kafka import BrokerError
from ops.local_postgres import PostgresError

#: Longest reason quoted from a driver's message; some run over several lines.
MAX_REASON = 160
_SILENCE = logging.NullHandler()


@dataclass(frozen=True)
class Failure:
    line: str | None  # None: the help text already said it
    exit_code: int


class OneLineErrors(TyperGroup):
    """The `payments` group: every verb's expected failures end here, in one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        quiet_kafka_clients()
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except Exception as error:
            known = failure(error)
            if known is None:
                raise
            if known.line:
                print(known.line, file=sys.stderr)
            code = known.exit_code
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def quiet_kafka_clients() -> None:
    """librdkafka reports every refused connection; a short-lived verb says it once, in
    its failure line. A component that configures logging still gets them, as JSON."""
    logging.getLogger("librdkafka").addHandler(_SILENCE)  # once, however often called


def failure(error: BaseException) -> Failure | None:
    """The line and exit code for an expected failure; None for anything else."""
    if isinstance(error, NoArgsIsHelpError):
        return Failure(None, error.exit_code)
    if isinstance(error, ClickException):
        return Failure(_usage(error), error.exit_code)
    if isinstance(error, typer.Abort):
        return Failure("error: interrupted", 130)
    if isinstance(error, BrokerError | PostgresError):
        return Failure(f"error: {_one_line(str(error))}", 1)
    if isinstance(error, ValidationError):
        return Failure(_invalid_settings(error), 2)
    if isinstance(error, KafkaException | KafkaConnectionError):
        return Failure(_broker_down(error), 1)
    if isinstance(
        error, OperationalError | InterfaceError | ArgumentError | psycopg.OperationalError
    ):
        return Failure(_database_down(error), 1)
    return None


def _usage(error: ClickException) -> str:
    context = error.ctx if isinstance(error, UsageError) else None
    command = context.command_path if context else "payments"
    return f"error: {_one_line(error.format_message()).rstrip('.')}; see `{command} --help`"


def _invalid_settings(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
        for problem in error.errors()
    )
    return f"error: invalid setting {_one_line(problems)}; fix the environment or .env"


def _broker_down(error: KafkaException | KafkaConnectionError) -> str:
    servers = _setting("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS")
    reason = error.args[0].str() if error.args and isinstance(error.args[0], KafkaError) else error
    return (
        f"error: the Kafka broker at {servers}: {_one_line(str(reason))}; "
        "check that it runs (`payments kafka start`) and KAFKA_BOOTSTRAP_SERVERS names it"
    )


def _database_down(error: Exception) -> str:
    url = _setting("database_url", "DATABASE_URL")
    # Not a URL at all: the reason says so, and there is no password to hide.
    with contextlib.suppress(ArgumentError):
        url = make_url(url).render_as_string(hide_password=True)
    reason = getattr(error, "orig", None) or error
    return (
        f"error: the database at {url}: {_one_line(str(reason))}; "
        "check that it runs (`payments postgres start`) and DATABASE_URL names it"
    )


def _setting(field: str, variable: str) -> str:
    try:
        return str(getattr(PipelineSettings(), field))
    except ValidationError:
        return variable


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"
