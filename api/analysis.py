"""The shape of a GraphQL document, measured in one pass: depth, aliases and repeated fields.

A document can spread a fragment many times, and a fragment can spread others: walking every
path through the spreads costs exponential time (a chain of fragments that each spread the
previous one twice doubles the paths at every link). Here each fragment is measured once and
its measure reused wherever it is spread (fragments are measured in dependency order,
without recursing through spreads), so the work is linear in the document's size
whatever its spreads; a fragment spread twice in one selection set counts once, as execution
merges it, and a fragment met again while it is being measured (a cycle, which validation
refuses anyway) counts for nothing.

Measured per operation:

- ``depth``: the longest chain of nested fields (a root field is 1); introspection
  (``__schema``, ``__type``) is left out, as graphql-core bounds it with its own rule;
- ``aliases``: aliased fields as executed: a fragment spread under two different fields
  counts twice, since it runs twice;
- ``repeats``: the most fields sharing one response name in one selection set, fragments
  merged in. Validation compares such fields pairwise (OverlappingFieldsCanBeMerged), so a
  document of a few thousand copies of one field costs seconds to validate: this bound is
  checked before validation runs.

Unknown fragments and fields are skipped here (validation reports them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class ShapeLimits:
    max_depth: int = 15  # nested fields, introspection excepted
    max_aliases: int = 30  # each alias of a list can cost upstream calls
    max_repeats: int = 10  # fields sharing one response name in one selection set


@dataclass
class _Measure:
    depth: int = 0
    aliases: int = 0
    # response names at the top of the selection set, fragments merged in
    names: Counter[str] = field(default_factory=Counter)
    repeats: int = 0  # the most repeats found in this set or any set below it


@dataclass(frozen=True)
class Shape:
    depth: int
    aliases: int
    repeats: int


class _Walker:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, _Measure] = {}
        # Dependencies first, without recursion: a chain of spreads is as long as the
        # document allows, far beyond Python's stack.
        for name in dependency_order(self.fragments):
            self.measured[name] = self.selection_set(self.fragments[name].selection_set)

    def fragment(self, name: str) -> _Measure:
        # Unknown, or on a cycle and not measured yet: nothing (validation refuses both).
        return self.measured.get(name) or _Measure()

    def selection_set(self, selection_set: SelectionSetNode) -> _Measure:
        total = _Measure()
        spread: set[str] = set()
        self._add(total, selection_set, spread)
        total.repeats = max(total.repeats, max(total.names.values(), default=0))
        return total

    def _add(self, total: _Measure, selection_set: SelectionSetNode, spread: set[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                total.names[(selection.alias or selection.name).value] += 1
                if selection.alias is not None:
                    total.aliases += 1
                if selection.selection_set is None:
                    total.depth = max(total.depth, 1)
                    continue
                below = self.selection_set(selection.selection_set)
                total.aliases += below.aliases
                total.repeats = max(total.repeats, below.repeats)
                if name not in INTROSPECTION_ROOTS:
                    total.depth = max(total.depth, below.depth + 1)
            elif isinstance(selection, InlineFragmentNode):
                # Its fields merge into this selection set.
                self._add(total, selection.selection_set, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spread:
                    continue  # spread again in the same set: execution merges it
                spread.add(name)
                measure = self.fragment(name)
                total.depth = max(total.depth, measure.depth)
                total.aliases += measure.aliases
                total.repeats = max(total.repeats, measure.repeats)
                total.names.update(measure.names)


def spreads_in(selection_set: SelectionSetNode) -> set[str]:
    """The names of the fragments spread anywhere inside ``selection_set``."""
    found: set[str] = set()
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                found.add(selection.name.value)
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return found


def dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """The fragments' names, each after every fragment it spreads (cycles broken anywhere)."""
    needs = {name: spreads_in(d.selection_set) & fragments.keys() for name, d in fragments.items()}
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in fragments:
        if root in state:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(needs[root]))]
        state[root] = 1
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(needs[child])))
    return order


def measure(document: DocumentNode) -> dict[str | None, Shape]:
    """The shape of each operation in ``document``, keyed by operation name."""
    walker = _Walker(document)
    shapes: dict[str | None, Shape] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            found = walker.selection_set(definition.selection_set)
            name = definition.name.value if definition.name else None
            shapes[name] = Shape(found.depth, found.aliases, found.repeats)
    return shapes


def check(document: DocumentNode, limits: ShapeLimits) -> list[GraphQLError]:
    """Errors for the operations of ``document`` over ``limits`` (empty when none is)."""
    errors: list[GraphQLError] = []
    for name, shape in measure(document).items():
        named = f"'{name}'" if name else "the operation"
        if shape.depth > limits.max_depth:
            errors.append(
                _refusal(
                    f"{named} exceeds maximum operation depth of {limits.max_depth}",
                    "DEPTH_LIMIT_EXCEEDED",
                )
            )
        if shape.aliases > limits.max_aliases:
            errors.append(
                _refusal(
                    f"{_count(shape.aliases)} aliases found. Allowed: {limits.max_aliases}",
                    "ALIAS_LIMIT_EXCEEDED",
                )
            )
        if shape.repeats > limits.max_repeats:
            errors.append(
                _refusal(
                    f"a field is selected {_count(shape.repeats)} times in one selection set. "
                    f"Allowed: {limits.max_repeats}",
                    "REPEAT_LIMIT_EXCEEDED",
                )
            )
    return errors


def _count(value: int) -> str:
    # A count doubled at every link of a fragment chain has hundreds of digits.
    return str(value) if value < 10**9 else "more than 1000000000"


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})
