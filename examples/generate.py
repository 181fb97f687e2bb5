"""Write examples/bodies/ again from `ops.example_events` (run it after changing that module;
a unit test fails while the files are stale): `.venv/bin/python examples/generate.py`."""

from __future__ import annotations

import shutil
from pathlib import Path

from ops.example_events import write_examples

BODIES = Path(__file__).resolve().parent / "bodies"


def main() -> None:
    shutil.rmtree(BODIES, ignore_errors=True)
    written = write_examples(BODIES)
    print(f"wrote {len(written)} example bodies under {BODIES}")


if __name__ == "__main__":
    main()
