"""`python -m tests.support.crashing_sink`: the real sink, configured from the
environment, that SIGKILLs itself right after its first database commit, before the
offset commit: the worst moment for a crash."""

from __future__ import annotations

import asyncio
import os
import signal

from common.settings import PipelineSettings
from sinks.main import run_sink


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(run_sink(PipelineSettings(), before_offset_commit=_die))
