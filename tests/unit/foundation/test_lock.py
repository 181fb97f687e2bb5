"""The locks pin what pyproject.toml pins: a dependency added without `make lock` fails here
instead of at `make install` on a fresh machine."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEV_TOOLS = {"pytest", "mypy", "ruff", "bandit", "coverage", "hypothesis", "import-linter", "uv"}
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^ ;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    found = (PIN.match(line) for line in requirements)
    return {normalized(m[1]): m[2] for m in found if m}


def locked(name: str) -> dict[str, str]:
    return pins((ROOT / "requirements" / name).read_text().splitlines())


def project() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = data["optional-dependencies"]
    return {"runtime": data["dependencies"], "dev": extras["dev"] + extras["plot"]}


def test_every_pin_of_pyproject_is_in_the_locks_at_its_version() -> None:
    declared = project()
    assert pins(declared["runtime"]).items() <= locked("runtime.txt").items()
    assert (pins(declared["runtime"]) | pins(declared["dev"])).items() <= locked("lock.txt").items()


def test_the_image_lock_holds_no_dev_tool_and_agrees_with_the_dev_lock() -> None:
    runtime, everything = locked("runtime.txt"), locked("lock.txt")
    assert not DEV_TOOLS & runtime.keys()
    assert runtime.items() <= everything.items()


def test_every_locked_requirement_has_hashes() -> None:
    for name in ("runtime.txt", "lock.txt"):
        text = (ROOT / "requirements" / name).read_text()
        requirements = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert requirements
        for requirement in requirements:
            assert "--hash=sha256:" in requirement, requirement.splitlines()[0]
