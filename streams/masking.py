"""PII masking for text that leaves the worker in headers and logs (`error-message`).

Error texts are meant to name rules and fields only, but an exception from a library can
quote input. What looks like personal data is replaced (`common.masking`, the one list of
personal fields) before the text is bounded.
"""

from __future__ import annotations

from typing import Final

from common.masking import mask_text

MAX_ERROR_MESSAGE_CHARS: Final = 512


def error_message(error: BaseException | str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """The masked, bounded text of an error, fit for a header or a log line."""
    text = mask_text(str(error))
    return text if len(text) <= limit else text[: limit - 1] + "…"
