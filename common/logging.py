"""Structured JSON logs on stderr, with the correlation id of the work in hand and personal
data and secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from common.masking import mask_fields, mask_text, mask_value

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class CorrelationIdFilter(logging.Filter):
    """Stamps every record with the correlation id of the current task, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


#: What every LogRecord carries; anything else on a record came in through `extra=`.
_RECORD_FIELDS = frozenset(
    {*logging.makeLogRecord({}).__dict__, "message", "asctime", "taskName", "correlation_id"}
)


class MaskingFilter(logging.Filter):
    """Masks personal data and secrets in a record's extras, message arguments, message
    (when it has no arguments, e.g. an f-string) and exception text, with
    `common.masking`: a field named like personal data loses its value; documents are
    masked field by field; text loses emails, long digit runs and secrets. Never raises:
    a record it cannot mask is replaced by a notice."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            _mask_record(record)
        except Exception:  # a log call must not fail; the record must not leak either
            for name in set(record.__dict__) - _RECORD_FIELDS:
                delattr(record, name)
            record.msg, record.args = "log record withheld: it could not be masked", ()
            record.exc_info, record.exc_text = None, None
        return True


def _mask_record(record: logging.LogRecord) -> None:
    extras = {name: getattr(record, name) for name in set(record.__dict__) - _RECORD_FIELDS}
    for name, value in mask_fields(extras).items():
        setattr(record, name, value)
    if isinstance(record.args, tuple) and record.args:
        record.args = tuple(mask_value(arg) for arg in record.args)
    elif isinstance(record.args, Mapping):
        record.args = mask_fields(record.args)
    else:  # no arguments: the message may have been formatted already (an f-string)
        record.msg = mask_value(record.msg)
    if record.exc_info:
        # Exception messages can quote input; the formatter prints `exc_text` instead.
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = mask_text(record.exc_text)


def configure_logging(level: str = "INFO", component: str = "payments") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            static_fields={"component": component},
        )
    )
    handler.addFilter(CorrelationIdFilter())
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
