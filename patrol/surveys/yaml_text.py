"""Checklist definitions read from YAML text (JSON is YAML too), safely: PyYAML's safe loader (no arbitrary
objects), a key given twice is an error, and aliases are refused before anything is expanded."""

from __future__ import annotations

from typing import Any

import yaml

from patrol.core.errors import InvalidInput


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML silently keeps the
    last one, which hides a copy-paste mistake in a checklist), and that aliases (``*name``, and ``<<: *name``
    merges) are refused: a few hundred bytes of nested aliases expand to gigabytes ("billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a checklist",
                                              event.start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict):
            continue  # unhashable keys: PyYAML reports them itself
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_text(text: str) -> Any:
    """Parse a definition written in YAML (JSON is YAML too). A syntax error is one line naming the YAML line."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown line"
        raise InvalidInput(f"checklist definition is not valid YAML: {where}: {problem}", field="definition") from None
