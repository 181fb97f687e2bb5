"""`payments metrics record`: scrape the components' /metrics every interval into a file
(`ops.recording`), for `payments metrics plot` where no Prometheus runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ops.recording import Sample, Scrape, to_line

#: Only the pipeline's own series are kept (not the process and GC collectors).
PREFIX = "payments_"


def parse_samples(text: str) -> list[Sample]:
    """The pipeline's samples in an exposition (`_created` timestamps left out)."""
    return [
        Sample(sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(PREFIX) and not sample.name.endswith("_created")
    ]


def scrape(client: httpx.Client, job: str, url: str, t: float) -> Scrape:
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as error:
        return Scrape(t, job, error=f"{type(error).__name__}: {error}")
    return Scrape(t, job, parse_samples(response.text))


def record(
    targets: Mapping[str, str],
    out: TextIO,
    duration: float,
    interval: float = 1.0,
    clock: Callable[[], float] = time.time,
    stop: threading.Event | None = None,
) -> int:
    """Scrape every target once per `interval` for `duration` seconds (Ctrl-C ends it
    early; `stop`, after one last round); returns the rounds. A round's scrapes all carry
    its start time."""
    stop = stop or threading.Event()
    rounds = 0
    started = time.monotonic()
    with httpx.Client(timeout=max(interval / 2, 0.2)) as client:
        try:
            while time.monotonic() - started < duration:
                t = clock()
                for job, url in targets.items():
                    out.write(to_line(scrape(client, job, url, t)) + "\n")
                out.flush()
                rounds += 1
                if stop.is_set():
                    break
                stop.wait(max(0.0, started + rounds * interval - time.monotonic()))
        except KeyboardInterrupt:
            pass
    return rounds


def record_to_file(
    targets: Mapping[str, str],
    path: Path,
    duration: float,
    interval: float,
    stop: threading.Event | None = None,
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        return record(targets, out, duration, interval, stop=stop)
