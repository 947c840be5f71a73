"""YAML for a config file that may be careless or hostile: bounded size, nesting and expansion,
duplicate keys refused, every error named with its line and column.

PyYAML's safe loader builds no objects of its own choosing, but it still follows aliases: twelve
lines of nested `*refs` ("billion laughs") name 10^12 values, which any later walk of the tree
(substitution of ${VAR}, validation) expands until memory runs out. Its composer is recursive, so
10,000 nested brackets end in RecursionError. And where a key appears twice the last one wins in
silence, so a second `sources:` further down quietly replaces the first.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
# Values after every alias is followed; a config for hundreds of cameras has a few thousand.
MAX_VALUES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefused(ValueError):
    """The text is not a config gunwatch will load; the message says where and why."""


def _where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer stops at MAX_DEPTH and whose mappings refuse duplicate keys."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRefused(f"{_where(self.peek_event().start_mark)}nested more than "
                                  f"{MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        seen: dict[str, yaml.Mark] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                if key_node.value in seen:
                    first = seen[key_node.value]
                    raise YamlRefused(f"{_where(key_node.start_mark)}key {key_node.value!r} appears "
                                      f"twice (first at line {first.line + 1}); the second would "
                                      "silently replace the first: merge them into one")
                seen[key_node.value] = key_node.start_mark
        return super().construct_mapping(node, deep)


def _check_expansion(root: Node) -> None:
    """Count the values the tree has once every alias is followed; stop at MAX_VALUES."""
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise YamlRefused(f"{_where(node.start_mark)}aliases (*name) expand the file to more "
                              f"than {MAX_VALUES} values; write the repeated part out or use "
                              "fewer nested aliases")
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))


def load(text: str) -> Any:
    """The one YAML document in `text`, as Python values; YamlRefused says what is wrong."""
    if len(text) > MAX_BYTES:
        raise YamlRefused(f"{len(text)} characters: a config file is far smaller than "
                          f"{MAX_BYTES} (is it the right file?)")
    try:
        loader = _BoundedLoader(text)  # the reader refuses control characters right here
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _check_expansion(root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlRefused(f"{_where(mark)}not valid YAML ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise YamlRefused(f"not valid YAML ({' '.join(str(exc).split())})") from None
    except YamlRefused:
        raise
    except (ValueError, OverflowError) as exc:  # a date like 2026-13-45 fails in datetime()
        raise YamlRefused(f"a value cannot be read ({exc}); quote it to keep it as text") from None


def decode(data: bytes) -> str:
    """The file's bytes as text: UTF-8 (a byte-order mark is dropped); any other byte is named
    with its line and column, since YAML config files are UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlRefused(f"line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                          "(the file was saved as Latin-1 or Windows-1252?); save it as UTF-8") from None
