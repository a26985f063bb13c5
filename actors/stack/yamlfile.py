"""Reading one compose file's YAML: plain maps, lists and scalars, plus the line of every key and list item.

Anchors, aliases and merge keys (``<<: *defaults``) work as in any YAML; a
key written twice in one mapping is an error (as Docker's loader says it),
and dates stay text (``2024-01-01`` is a label value, not a date).
"""

from __future__ import annotations

import re

import yaml

from actors.stack.errors import ComposeError, Path, Positions


class _Loader(yaml.SafeLoader):
    """SafeLoader noting, for each map and list it makes, the line of each key or item (by the object's id)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.lines: dict[int, object] = {}

    def construct_yaml_map(self, node):
        data: dict = {}
        yield data
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge" and isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"mapping key {key_node.value!r} already defined at line {seen[key_node.value]}",
                        key_node.start_mark)
                seen[key_node.value] = key_node.start_mark.line + 1
        data.update(self.construct_mapping(node))  # flattens merge keys into node.value first
        self.lines[id(data)] = {self.construct_object(key): key.start_mark.line + 1 for key, _ in node.value}

    def construct_yaml_seq(self, node):
        data: list = []
        yield data
        data.extend(self.construct_sequence(node))
        self.lines[id(data)] = [item.start_mark.line + 1 for item in node.value]


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_yaml_seq)
# YAML 1.1's base-60 numbers are gone (``22:22`` is a port mapping, not 1342, as in YAML 1.2).
_NUMBERS = {"tag:yaml.org,2002:int": re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
                                                r"|[-+]?0x[0-9a-fA-F_]+)$"),
            "tag:yaml.org,2002:float": re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
                                                  r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                                                  r"|\.(?:nan|NaN|NAN))$")}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, _NUMBERS.get(tag, regexp)) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load(text: str, name: str) -> tuple[dict, Positions]:
    """The top-level map of the compose file ``name`` holding ``text``, and where each key and item is;
    ComposeError naming the line for malformed YAML or a document that is not a map."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}: " if mark else " "
        raise ComposeError(f"{name}:{line}invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"{name}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        raise ComposeError(f"{name}: empty compose file")
    if not isinstance(data, dict):
        raise ComposeError(f"{name}:1: a compose file must be a map of top-level keys (services, networks...)")
    marks: dict[Path, tuple[str, int]] = {}
    _mark(data, (), name, loader.lines, marks, set())
    return data, Positions(marks)


def _mark(value, path: Path, name: str, lines: dict, marks: dict, walking: set) -> None:
    """Fill ``marks`` with the line of every key and item under ``value`` (at ``path``)."""
    if id(value) in walking:  # a recursive alias
        raise ComposeError(f"{name}: {'.'.join(map(str, path))}: a YAML alias refers to itself")
    known = lines.get(id(value))
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return
    walking.add(id(value))
    for key, child in children:
        if known is not None:
            marks[path + (key,)] = (name, known[key])
        _mark(child, path + (key,), name, lines, marks, walking)
    walking.discard(id(value))
