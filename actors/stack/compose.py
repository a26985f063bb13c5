"""Loading a stack's compose files: YAML, interpolation, checks, and the merge of several ``-c`` files.

The first file's directory is the project's: relative paths in every file
(binds, env files, secret and config files) and its ``.env`` are found there,
as Docker's loader does. Variables come from ``environ`` over ``.env``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from actors.stack import interpolation, toplevel, yamlfile
from actors.stack.errors import ComposeError, Positions
from actors.stack.values import Reader

# Lists of a service merged item by item (a later file's item replaces the earlier one of the same key);
# any other list is replaced whole, and maps are merged key by key.
MERGED_LISTS = {"ports": lambda p: (p["TargetPort"], p["PublishedPort"], p["Protocol"], p["PublishMode"]),
                "volumes": lambda m: m["Target"], "secrets": lambda s: s["source"], "configs": lambda c: c["source"]}


@dataclass
class Project:
    """The merged, checked compose files: ``config`` has one canonical map per section (toplevel.SECTIONS)."""
    config: dict
    positions: Positions
    base_dir: str
    ignored: set[str] = field(default_factory=set)
    deprecated: set[str] = field(default_factory=set)
    unset: set[str] = field(default_factory=set)

    def warnings(self) -> list[str]:
        """What ``docker stack deploy`` says before it deploys: variables not set, keys ignored."""
        lines = [f'The "{name}" variable is not set. Defaulting to a blank string.' for name in sorted(self.unset)]
        if self.ignored:
            lines.append(f"Ignoring unsupported options: {', '.join(sorted(self.ignored))}\n")
        if self.deprecated:
            reasons = "\n".join(f"{key}: {toplevel.services.DEPRECATED[key]}" for key in sorted(self.deprecated))
            lines.append(f"Ignoring deprecated options:\n\n{reasons}\n")
        return lines


def load(paths: list[str], environ: dict[str, str], read, working_dir: str) -> Project:
    """The project of the compose files at ``paths`` (relative to the absolute ``working_dir``; ``-`` is
    standard input, whose project directory is ``working_dir``); ``read(path) -> bytes`` reads any file
    (raising OSError). ComposeError naming file, line and key."""
    if not paths:
        raise ComposeError("Please specify a Compose file (with --compose-file)")
    paths = [path if path == "-" else posixpath.join(working_dir, path) for path in paths]
    base_dir = working_dir if paths[0] == "-" else posixpath.dirname(paths[0])
    variables = {**_dot_env(posixpath.join(base_dir, ".env"), read, environ), **environ}
    noted = {"ignored": set(), "deprecated": set()}
    unset: set[str] = set()
    merged, positions = None, Positions()
    for path in paths:
        try:
            text = read(path).decode("utf-8")
        except OSError as exc:
            raise ComposeError(f"cannot read compose file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ComposeError(f"{path}: a compose file must be UTF-8 text") from None
        data, found = yamlfile.load(text, path)
        data = interpolation.interpolate(data, found, variables, unset)
        document = toplevel.document(data, Reader(found), base_dir, variables, read, noted)
        positions.update(found)
        merged = document if merged is None else merge(merged, document)
    if not merged["services"]:
        raise ComposeError(f"{paths[0]}: no services to deploy")
    return Project(merged, positions, base_dir, noted["ignored"], noted["deprecated"], unset)


def _dot_env(path: str, read, environ: dict[str, str]) -> dict[str, str]:
    try:
        text = read(path).decode("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return interpolation.parse_env_file(text, path, environ)


def merge(base: dict, override: dict) -> dict:
    """``override`` (a later file) over ``base``: maps key by key, MERGED_LISTS item by item, the rest replaced."""
    out = dict(base)
    for name, value in override.items():
        old = out.get(name)
        if isinstance(old, dict) and isinstance(value, dict):
            out[name] = merge(old, value)
        elif isinstance(old, list) and isinstance(value, list) and name in MERGED_LISTS:
            identity = MERGED_LISTS[name]
            replaced = {identity(item) for item in value}
            out[name] = [item for item in old if identity(item) not in replaced] + value
        else:
            out[name] = value
    return out
