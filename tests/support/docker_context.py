"""The files `docker build` copies into the image: what the Dockerfile's COPY lines name,
less what .dockerignore leaves out of the build context."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath


def image_files(root: Path) -> list[str]:
    """Paths, relative to `root`, of every file the build stage copies from the context."""
    ignored = ignore_patterns((root / ".dockerignore").read_text())
    files = (
        path.relative_to(root).as_posix()
        for source in copied_sources((root / "Dockerfile").read_text())
        for path in _walk(root / source)
    )
    return sorted(file for file in files if not is_ignored(file, ignored))


def copied_sources(dockerfile: str) -> list[str]:
    """The context paths of every `COPY` that does not copy from another stage."""
    sources = []
    for line in dockerfile.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources.extend(words[1:-1])
    return sources


def ignore_patterns(dockerignore: str) -> list[str]:
    lines = (line.strip() for line in dockerignore.splitlines())
    return [line.lstrip("/") for line in lines if line and not line.startswith("#")]


def is_ignored(file: str, patterns: list[str]) -> bool:
    """Docker leaves out a file when a pattern matches it or one of its parent folders;
    `**/` matches any depth."""
    parts = PurePosixPath(file).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    tails = ["/".join(parts[n:]) for n in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            tail_pattern = pattern.removeprefix("**/")
            if any(fnmatchcase(part, tail_pattern) for part in parts) or any(
                fnmatchcase(tail, tail_pattern) for tail in tails
            ):
                return True
        elif any(fnmatchcase(prefix, pattern) for prefix in prefixes):
            return True
    return False


def _walk(path: Path) -> list[Path]:
    return [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
