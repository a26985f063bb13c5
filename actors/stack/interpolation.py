"""Variables in compose files, as the Compose Specification writes them, and ``.env`` files.

``$VAR`` and ``${VAR}``; ``${VAR:-default}`` (unset or empty) and
``${VAR-default}`` (unset); ``${VAR:?message}`` and ``${VAR?message}`` (an
error when unset/empty, or unset); ``${VAR:+other}`` and ``${VAR+other}``;
``$$`` for a literal ``$``. Defaults and messages may hold variables
themselves. An unset variable with none of these becomes the empty string,
with a warning. Values are interpolated; keys are not. Errors never quote the value (it may be a
password): the caller names the file, line and key.
"""

from __future__ import annotations

import re

from actors.stack.errors import ComposeError, Path, Positions

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class TemplateError(ValueError):
    """A malformed ``${...}`` or a ``:?`` variable that is missing."""


def substitute(text: str, environ: dict[str, str], unset: set[str]) -> str:
    """``text`` with its variables replaced from ``environ``; names of unset variables used without a
    default are added to ``unset``. TemplateError for a malformed template or a required variable."""
    out, position = [], 0
    while True:
        dollar = text.find("$", position)
        if dollar < 0:
            out.append(text[position:])
            return "".join(out)
        out.append(text[position:dollar])
        value, position = _expand(text, dollar, environ, unset)
        out.append(value)


def _expand(text: str, dollar: int, environ: dict, unset: set) -> tuple[str, int]:
    """The value of the reference starting at ``text[dollar] == "$"`` and the position after it."""
    after = dollar + 1
    if text.startswith("$", after):
        return "$", after + 1
    if not text.startswith("{", after):
        match = _NAME.match(text, after)
        if not match:
            raise TemplateError("invalid template: a '$' must start a variable (write $$ for a '$')")
        return _lookup(match.group(), environ, unset), match.end()
    close = _closing_brace(text, after + 1)
    body = text[after + 1:close]
    match = _NAME.match(body)
    if not match:
        raise TemplateError("invalid template: a '${' must start with a variable name")
    name, rest = match.group(), body[match.end():]
    if not rest:
        return _lookup(name, environ, unset), close + 1
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise TemplateError(f"invalid template: unknown operator after ${{{name}")
    argument = rest[len(operator):]
    present = name in environ and (not operator.startswith(":") or environ[name] != "")
    kind = operator[-1]
    if kind == "-":
        value = environ[name] if present else substitute(argument, environ, unset)
    elif kind == "+":
        value = substitute(argument, environ, unset) if present else ""
    elif present:
        value = environ[name]
    else:
        message = substitute(argument, environ, unset)
        raise TemplateError(f"required variable {name} is missing a value" + (f": {message}" if message else ""))
    return value, close + 1


def _closing_brace(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``${`` whose body starts at ``start`` (nested ``${...}`` skipped)."""
    depth = 1
    position = start
    while position < len(text):
        if text.startswith("$$", position):
            position += 2
            continue
        if text.startswith("${", position):
            depth += 1
            position += 2
            continue
        if text[position] == "}":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    raise TemplateError("invalid template: a '${' is never closed")


def _lookup(name: str, environ: dict, unset: set) -> str:
    if name not in environ:
        unset.add(name)
        return ""
    return environ[name]


def interpolate(data, positions: Positions, environ: dict[str, str], unset: set[str], path: Path = ()):
    """A copy of ``data`` with every string value substituted (keys kept); ComposeError naming the key and
    line of a bad template."""
    if isinstance(data, dict):
        return {key: interpolate(value, positions, environ, unset, path + (key,)) for key, value in data.items()}
    if isinstance(data, list):
        return [interpolate(value, positions, environ, unset, path + (index,)) for index, value in enumerate(data)]
    if isinstance(data, str):
        try:
            return substitute(data, environ, unset)
        except TemplateError as exc:
            raise positions.error(path, str(exc)) from None
    return data


def parse_env_file(text: str, name: str, environ: dict[str, str]) -> dict[str, str]:
    """The variables of a ``.env`` file: ``KEY=VALUE`` lines (``export`` allowed, ``#`` comments, values
    optionally quoted). Unquoted and double-quoted values are interpolated from ``environ`` and the lines
    above (single quotes keep the value as written). ComposeError naming a bad line, never its value."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").lstrip()
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key):
            raise ComposeError(f"{name}:{number}: expected KEY=VALUE")
        value = value.strip()
        if value.startswith("'") and value.endswith("'") and len(value) >= 2:
            variables[key] = value[1:-1]
            continue
        try:
            variables[key] = substitute(_env_value(value), {**environ, **variables}, set())
        except TemplateError as exc:
            raise ComposeError(f"{name}:{number}: {key}: {exc}") from None
    return variables


def _env_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace("\\n", "\n").replace('\\"', '"')
    comment = value.find(" #")
    return value[:comment].rstrip() if comment >= 0 else value
