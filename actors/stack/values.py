"""The value forms a compose file allows for one key, checked and turned into one canonical form.

Each reader takes the value, its key path and the :class:`Reader` of the file
(where errors are placed), and returns the value in one form or raises
ComposeError naming the key and line. After interpolation every value may
be text, so numbers and booleans are also read from text (``"3"``, ``"true"``).
"""

from __future__ import annotations

import shlex

from actors.cli import flagvalues
from actors.common.durations import parse_duration
from actors.stack.errors import ComposeError, Path, Positions


class Reader:
    """What checking one file needs: where its keys are, and a way to phrase an error about one."""

    def __init__(self, positions: Positions):
        self.positions = positions

    def error(self, path: Path, message: str) -> ComposeError:
        return self.positions.error(path, message)


def text(value, path: Path, reader: Reader) -> str:
    """A string (a number is written as text, as YAML may have read ``image: 3`` as one)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise reader.error(path, f"must be a string, not {_kind(value)}")
    return str(value)


def whole(value, path: Path, reader: Reader, high: int | None = None) -> int:
    """A whole number >= 0 (``3`` or ``"3"``), at most ``high``."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise reader.error(path, f"must be a whole number >= 0, not {_shown(value)}")
    if high is not None and value > high:
        raise reader.error(path, f"must be at most {high}, not {value}")
    return value


def octal_mode(value, path: Path, reader: Reader) -> int:
    """A file mode: a number (YAML's ``0440`` is octal already) or octal text (``"0440"``)."""
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise reader.error(path, f"must be a file mode such as 0440, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o7777:
        raise reader.error(path, f"must be a file mode such as 0440, not {_shown(value)}")
    return value


def boolean(value, path: Path, reader: Reader) -> bool:
    """``true``/``false`` (also as text)."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise reader.error(path, f"must be a boolean, not {_shown(value)}")
    return value


def ratio(value, path: Path, reader: Reader) -> float:
    """A number in 0..1."""
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not 0 <= number <= 1:
        raise reader.error(path, f"must be a number between 0 and 1, not {_shown(value)}")
    return number


def duration(value, path: Path, reader: Reader) -> int:
    """A Go duration (``10s``, ``1m30s``) in nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise reader.error(path, f"must be a duration such as 10s, not {_shown(value)}")
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise reader.error(path, str(exc)) from None


def memory(value, path: Path, reader: Reader) -> int:
    """Bytes: a number, or text with a unit (``64M``, ``1gb``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    try:
        return flagvalues.memory_bytes(text(value, path, reader))
    except ValueError as exc:
        raise reader.error(path, f"invalid memory value {value!r}: {exc}") from None


def cpus(value, path: Path, reader: Reader) -> int:
    """NanoCPUs from a number of CPUs (``0.5`` or ``"0.5"``)."""
    try:
        return flagvalues.nano_cpus(text(value, path, reader))
    except ValueError as exc:
        raise reader.error(path, f"invalid cpus value {value!r}: {exc}") from None


def choice(value, path: Path, reader: Reader, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise reader.error(path, f"must be one of {', '.join(choices)}, not {_shown(value)}")
    return value


def strings(value, path: Path, reader: Reader, one_allowed: bool = True) -> list[str]:
    """A list of strings (or, if ``one_allowed``, one string standing for a list of one)."""
    if one_allowed and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    if not isinstance(value, list):
        raise reader.error(path, f"must be a list of strings, not {_kind(value)}")
    return [text(item, path + (index,), reader) for index, item in enumerate(value)]


def command(value, path: Path, reader: Reader) -> list[str]:
    """A command: a list of words, or one string split as a shell would (``sh -c 'a b'``)."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise reader.error(path, f"cannot split {value!r} into words: {exc}") from None
    return strings(value, path, reader, one_allowed=False)


def mapping(value, path: Path, reader: Reader) -> dict:
    """A map with string keys."""
    if not isinstance(value, dict):
        raise reader.error(path, f"must be a map, not {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise reader.error(path, f"keys must be strings, not {_shown(key)}")
    return value


def pairs(value, path: Path, reader: Reader, separator: str = "=") -> dict[str, str | None]:
    """``environment`` and ``labels``: a map (a null value stays None) or a list of ``KEY=VALUE``
    (``KEY`` alone is None)."""
    if isinstance(value, list):
        out: dict[str, str | None] = {}
        for index, item in enumerate(value):
            key, sep, rest = text(item, path + (index,), reader).partition(separator)
            if not key:
                raise reader.error(path + (index,), f"must be KEY{separator}VALUE (the key is empty)")
            out[key] = rest if sep else None
        return out
    out = {}
    for key, item in mapping(value, path, reader).items():
        out[key] = None if item is None else scalar_text(item, path + (key,), reader)
    return out


def scalar_text(value, path: Path, reader: Reader) -> str:
    """A scalar as text: booleans as ``true``/``false``, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return text(value, path, reader)


def only_keys(value, path: Path, reader: Reader, known) -> dict:
    """``value`` as a map whose keys are all in ``known`` (extension keys ``x-*`` allowed and dropped);
    ComposeError naming an unknown key as Docker's schema check does."""
    value = mapping(value, path, reader)
    for key in value:
        if key not in known and not key.startswith("x-"):
            raise reader.error(path + (key,), f"additional property {key} is not allowed")
    return {key: item for key, item in value.items() if not key.startswith("x-")}


def read_each(value: dict, path: Path, reader: Reader, readers: dict) -> dict:
    """``{key: read(value[key])}`` for each key of ``readers`` that ``value`` has (``read(item, path, reader)``)."""
    return {key: read(value[key], path + (key,), reader) for key, read in readers.items() if key in value}


def _kind(value) -> str:
    return {dict: "a map", list: "a list", type(None): "null", bool: "a boolean"}.get(type(value), type(value).__name__)


def _shown(value) -> str:
    return repr(value) if isinstance(value, (str, int, float, bool)) else _kind(value)
