"""A recording of /metrics scrapes: one JSON line per target per round.

`{"t": <epoch s>, "job": "worker", "samples": [[name, {labels}, value], …]}`, or
`{"t": …, "job": …, "error": "…"}` when the target did not answer. Every target of one
round carries the round's time, so series of different jobs line up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Scrape:
    t: float
    job: str
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None


def to_line(scrape: Scrape) -> str:
    if scrape.error is not None:
        return json.dumps({"t": scrape.t, "job": scrape.job, "error": scrape.error})
    samples = [[s.name, s.labels, s.value] for s in scrape.samples]
    return json.dumps({"t": scrape.t, "job": scrape.job, "samples": samples})


def from_lines(lines: Iterable[str]) -> list[Scrape]:
    """The scrapes of a recording, in order; blank lines are skipped."""
    scrapes = []
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        samples = [
            Sample(name, labels, float(value)) for name, labels, value in row.get("samples", [])
        ]
        scrapes.append(Scrape(row["t"], row["job"], samples, row.get("error")))
    return scrapes
