"""``--format``: a small, documented subset of Go templates as docker's CLI takes them.

Supported, and nothing else (anything outside it is a :class:`TemplateError`
naming the action, never a silent blank):

- ``{{.Field}}`` and ``{{.Field.Sub.Key}}``: a value of the row (``ls``/``ps``:
  the columns, named as docker names them; ``inspect``: the object itself).
  An unknown first field is an error; a missing deeper key prints
  ``<no value>``, as Go does for a map.
- ``{{json .}}`` and ``{{json .Field}}``: the value as JSON.
- ``table`` as the first word: a header row (``{{.DesiredState}}`` ->
  ``DESIRED STATE``) and columns aligned at each tab.
- ``\\t`` and ``\\n`` typed as two characters are a tab and a newline.
- ``json`` alone, as docker 23's shorthand: ``{{json .}}``.

Values: text as is, numbers and booleans as Go prints them, maps and lists as
JSON, null as ``<nil>``; whatever comes from the cluster is shown with its
control characters escaped.
"""

from __future__ import annotations

import json
import re

from actors.cli.format import table
from transport.text import escaped

_ACTION = re.compile(r"{{\s*(.*?)\s*}}")
_PATH = re.compile(r"\.|(\.[A-Za-z_][A-Za-z0-9_]*)+")
SUPPORTED = "{{.Field}}, {{.Field.Key}}, {{json .}}, {{json .Field}} and a leading 'table'"


class TemplateError(ValueError):
    """A template outside the supported subset, or one naming a field the row does not have."""


def _lookup(row, path: str):
    if path == ".":
        return row
    value = row
    for depth, key in enumerate(path[1:].split(".")):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif depth == 0:
            raise TemplateError(f"template: can't evaluate field {key}: "
                                f"use one of {', '.join(sorted(row)) if isinstance(row, dict) else 'none'}")
        else:
            return _NO_VALUE
    return value


class _NoValue:
    pass


_NO_VALUE = _NoValue()


def _text(value) -> str:
    if value is _NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return escaped(str(value))


class Template:
    """A parsed ``--format`` text; :meth:`render` fills it for a list of rows."""

    def __init__(self, text: str):
        if text == "json":  # docker's shorthand
            text = "{{json .}}"
        self.is_table = text.startswith("table")
        body = text[len("table"):].lstrip(" ") if self.is_table else text
        self.body = body.replace("\\t", "\t").replace("\\n", "\n")
        self.actions = []
        for match in _ACTION.finditer(self.body):
            self.actions.append(self._parse(match.group(1)))
        if "{{" in _ACTION.sub("", self.body) or "}}" in _ACTION.sub("", self.body):
            raise TemplateError(f"template: unclosed action in {text!r}")

    @staticmethod
    def _parse(action: str) -> tuple[bool, str]:
        """(as JSON?, path) of one action; TemplateError outside the subset."""
        words = action.split()
        if len(words) == 1 and _PATH.fullmatch(words[0]):
            return False, words[0]
        if len(words) == 2 and words[0] == "json" and _PATH.fullmatch(words[1]):
            return True, words[1]
        raise TemplateError(f"template: unsupported action {{{{{action}}}}}: Shoal's --format takes {SUPPORTED}")

    def _fill(self, row) -> str:
        actions = iter(self.actions)

        def substitute(match):
            as_json, path = next(actions)
            value = _lookup(row, path)
            if as_json:
                return "null" if value is _NO_VALUE else escaped(json.dumps(value))
            return _text(value)
        return _ACTION.sub(substitute, self.body)

    def header(self) -> str:
        """The ``table`` header: each action's last field in capitals, CamelCase split into words."""
        def name(match):
            path = self._parse(match.group(1))[1]
            last = path.rsplit(".", 1)[-1] or "."
            return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", last).upper()
        return _ACTION.sub(name, self.body)

    def render(self, rows: list) -> str:
        """Every row filled in, one per line; with ``table``, a header and aligned columns."""
        filled = [self._fill(row) for row in rows]
        if not self.is_table:
            return "\n".join(filled)
        cells = [line.split("\t") for line in filled]
        return table(self.header().split("\t"), cells)
