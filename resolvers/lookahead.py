"""Look-ahead: which fields a query selects below the current one, fragments included.

A resolver that returns customers uses it to load, in one batched call per system, exactly
the systems whose fields were asked for, so that the customer's own fields resolve without
further waiting. ``@skip``/``@include`` are not evaluated: a conditional field counts as
selected, which can only load more, never less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)


def _fields(
    selection_sets: Iterable[SelectionSetNode | None],
    fragments: Mapping[str, FragmentDefinitionNode],
    on: str | None = None,
) -> Iterable[FieldNode]:
    """The fields of ``selection_sets``, fragments merged in; with ``on``, only through the
    fragments that apply to that type (or to any type). Each fragment is walked once per call,
    as execution collects fields: a fragment spread at every level of a chain of fragments
    would otherwise be walked once per path, exponentially many."""
    visited: set[str] = set()
    stack = [selection_set for selection_set in selection_sets if selection_set is not None]
    stack.reverse()
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                if _applies(selection, on):
                    stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in visited and _applies(fragment, on):
                    visited.add(name)
                    stack.append(fragment.selection_set)


def _applies(fragment: InlineFragmentNode | FragmentDefinitionNode, on: str | None) -> bool:
    condition = fragment.type_condition
    return on is None or condition is None or condition.name.value == on


def selected(info: Any, *path: str) -> set[str]:
    """Field names selected at ``path`` below the current field.

    ``selected(info)`` names the current field's own sub-fields; ``selected(info, "edges",
    "node")`` those of a connection's nodes. ``info`` is strawberry's or graphql-core's.
    """
    raw = getattr(info, "_raw_info", info)
    fragments: Mapping[str, FragmentDefinitionNode] = raw.fragments
    level: list[FieldNode] = list(raw.field_nodes)
    for step in path:
        level = [
            child
            for child in _fields((node.selection_set for node in level), fragments)
            if child.name.value == step
        ]
    return {child.name.value for child in _fields((n.selection_set for n in level), fragments)}


def selected_nodes(info: Any) -> set[str]:
    """Field names selected on the nodes of a connection, through ``edges.node`` or ``nodes``."""
    return selected(info, "edges", "node") | selected(info, "nodes")


def selected_on(info: Any, type_name: str) -> set[str]:
    """Field names selected below a field of an abstract type (a union), for the members of
    one type: those outside fragments and those in fragments on ``type_name``."""
    raw = getattr(info, "_raw_info", info)
    return {
        child.name.value
        for child in _fields(
            (node.selection_set for node in raw.field_nodes), raw.fragments, on=type_name
        )
    }
