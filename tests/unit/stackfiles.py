"""Compose files written to a temporary directory and loaded as ``shoal stack deploy`` loads them."""

from __future__ import annotations

import pathlib
import textwrap

from actors.stack import compose, convert

IMAGE = "shoal-test:latest"


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def write(directory: pathlib.Path, files: dict[str, str]) -> list[str]:
    """Write each ``name: text`` (dedented) under ``directory``; the names of those ending in .yml, in order."""
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text))
    return [name for name in files if name.endswith((".yml", ".yaml"))]


def load(directory: pathlib.Path, files: dict[str, str], environ: dict | None = None) -> compose.Project:
    return compose.load(write(directory, files), environ or {}, read, str(directory))


def stack(directory: pathlib.Path, files: dict[str, str], name: str = "app",
          environ: dict | None = None) -> convert.Stack:
    return convert.convert(load(directory, files, environ), name)
