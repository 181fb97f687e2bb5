"""The bare faust relay: `payments bench worker`'s second baseline.

A faust app built like the worker (`make_app`: same driver, producer settings, commit
interval, uvloop) whose one agent forwards each raw-webhooks record to payment-events and
does nothing else: no parsing, no tables, no state. What it costs per record is the floor
faust's per-message path (fetch, dispatch, stream, ack, produce) puts under any faust
worker on this machine; the worker's rate over it shows what our own steps add.

Run as `python -m ops.bench.faust_relay EVENTS RESULT_FILE` with the worker's environment;
writes its records/s and CPU µs per record, every thread (first record to the EVENTS-th), to
RESULT_FILE, then idles until stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import faust
import mode.loop

from common.settings import PipelineSettings
from streams.engine import make_app

GROUP_ID = "bare-faust-relay"


def main(events: int, result: Path) -> None:
    settings = PipelineSettings()
    settings = settings.model_copy(update={"worker_group_id": GROUP_ID})
    mode.loop.use("uvloop")
    app = make_app(settings)
    source = app.topic(settings.topics.raw_webhooks, key_serializer="raw", value_serializer="raw")
    sink = settings.topics.payment_events

    async def relay(stream: Any) -> None:
        seen, started, cpu_started = 0, 0.0, 0.0
        async for event in stream.events():
            if not started:
                started, cpu_started = time.perf_counter(), time.process_time()
            message = event.message
            await app.producer.send(sink, message.key, message.value, None, None, None)
            seen += 1
            if seen == events:
                rate = events / (time.perf_counter() - started)
                cpu_us = (time.process_time() - cpu_started) / events * 1e6
                result.write_text(f"{rate} {cpu_us}\n")  # noqa: ASYNC240 (once, after it)

    app.agent(source, name="bare-relay", concurrency=1)(relay)
    faust.Worker(app, loglevel="WARNING", override_logging=False).execute_from_commandline()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
