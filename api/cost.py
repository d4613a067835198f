"""An operation's cost, computed before it runs, on the IBM GraphQL Cost Directives
specification (static analysis, as Apollo Router and Hive Gateway apply it).

- an operation costs its type's base (a mutation 10, a query or subscription 0) plus its
  fields;
- a field costs its weight (``@cost`` on the field, else 1 for an object and 0 for a scalar
  or enum) plus the cost of its selections; introspection and ``__typename`` cost nothing;
- a list multiplies that by its size: the value of its slicing argument (``first``, from the
  document, the variables, or the argument's default), applied to the sized fields
  (``edges``, ``nodes``) when the field returns a connection; else its ``assumedSize``.

The weights and sizes are the schema's ``@cost`` and ``@listSize`` directives (`schema.cost`
puts them on the fields; the printed SDL shows the same directive objects), read once when
the pipeline starts: from the fields' directives (`Weights.from_schema`), or from SDL text
(`Weights.from_sdl`, for a schema described only by its text).

Like `api.analysis`, the computation is linear in the document: each fragment's cost is
computed once (in dependency order, without recursing through spreads) as a fixed part plus,
for each list at its top level, a cost per item, so that a connection's size can be applied
to a fragment spread inside it; a fragment spread twice in one selection set counts once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    parse,
)
from strawberry import UNSET

from api.analysis import dependency_order
from schema.cost import Cost, ListSize
from schema.walk import definition_of, object_fields

OPERATION_BASE = {OperationType.QUERY: 0, OperationType.MUTATION: 10, OperationType.SUBSCRIPTION: 0}
DEFAULT_LIST_SIZE = 10  # a list with no @listSize at all (the schema gives every list one)


@dataclass(frozen=True)
class Sizing:
    """A field's ``@listSize``."""

    assumed: int | None = None
    slicing: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Weights:
    """``@cost`` and ``@listSize`` by (type, field), as the printed SDL carries them."""

    weights: Mapping[tuple[str, str], int]
    sizes: Mapping[tuple[str, str], Sizing]

    @classmethod
    def from_schema(cls, schema: GraphQLSchema) -> Weights:
        """The directives a strawberry-built ``schema`` carries on its fields (the objects
        its SDL is printed from); reading them costs no parse of the printed text."""
        weights: dict[tuple[str, str], int] = {}
        sizes: dict[tuple[str, str], Sizing] = {}
        for graphql_type, name, graphql_field in object_fields(schema):
            definition = definition_of(graphql_field)
            for directive in definition.directives if definition else ():
                key = (graphql_type.name, name)
                if isinstance(directive, Cost):
                    weights[key] = int(float(directive.weight))
                elif isinstance(directive, ListSize):
                    sizes[key] = Sizing(
                        assumed=_given(directive.assumed_size),
                        slicing=tuple(_given(directive.slicing_arguments) or ()),
                        sized_fields=tuple(_given(directive.sized_fields) or ()),
                    )
        return cls(weights, sizes)

    @classmethod
    def from_sdl(cls, sdl: str) -> Weights:
        weights: dict[tuple[str, str], int] = {}
        sizes: dict[tuple[str, str], Sizing] = {}
        for definition in parse(sdl).definitions:
            if not isinstance(definition, ObjectTypeDefinitionNode):
                continue
            for field_node in definition.fields or ():
                key = (definition.name.value, field_node.name.value)
                for directive in field_node.directives or ():
                    arguments = _arguments(directive)
                    if directive.name.value == "cost":
                        weights[key] = int(float(str(arguments["weight"])))
                    elif directive.name.value == "listSize":
                        assumed = arguments.get("assumedSize")
                        sizes[key] = Sizing(
                            assumed=int(assumed) if isinstance(assumed, str) else None,
                            slicing=tuple(arguments.get("slicingArguments") or ()),
                            sized_fields=tuple(arguments.get("sizedFields") or ()),
                        )
        return cls(weights, sizes)


def _given(value: Any) -> Any:
    """A directive's argument, None where it was left unset."""
    return None if value is UNSET else value


def _arguments(directive: DirectiveNode) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for argument in directive.arguments or ():
        value = argument.value
        if isinstance(value, IntValueNode | StringValueNode):
            found[argument.name.value] = value.value
        elif isinstance(value, ListValueNode):
            found[argument.name.value] = [
                item.value for item in value.values if isinstance(item, StringValueNode)
            ]
    return found


@dataclass
class _Cost:
    """A selection set's cost: a fixed part, and per list field at its top level (by field
    name) the cost of one item and the size it has unless its parent sizes it."""

    fixed: int = 0
    lists: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, other: _Cost) -> None:
        self.fixed += other.fixed
        for name, (unit, size) in other.lists.items():
            self.list(name, unit, size)

    def list(self, name: str, unit: int, size: int) -> None:
        known, _ = self.lists.get(name, (0, size))
        self.lists[name] = (known + unit, size)

    def total(self, sizes: Mapping[str, int]) -> int:
        return self.fixed + sum(
            unit * sizes.get(name, size) for name, (unit, size) in self.lists.items()
        )


class CostCalculator:
    def __init__(self, schema: GraphQLSchema, weights: Weights) -> None:
        self.schema = schema
        self.weights = weights

    def cost(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> int:
        """The cost of ``operation`` (of ``document``) run with ``variables``."""
        return self.cost_and_inputs(document, operation, variables)[0]

    def cost_and_inputs(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> tuple[int, tuple[str, ...]]:
        """The cost, and the names of the variables it depends on (those given as slicing
        arguments): the same document costs the same with the same values of those."""
        run = _Run(self, document, operation, variables or {})
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0, ()
        total = run.selection_set(operation.selection_set, root).total({})
        return OPERATION_BASE[operation.operation] + total, tuple(sorted(run.read))


class _Run:
    def __init__(
        self,
        calculator: CostCalculator,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = calculator.schema
        self.weights = calculator.weights
        self.variables = dict(variables)
        self.read: set[str] = set()  # the variables the cost depends on
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and isinstance(definition.default_value, IntValueNode):
                self.variables[name] = int(definition.default_value.value)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragments: dict[str, _Cost] = {}
        for name in dependency_order(fragments):
            condition = self.schema.get_type(fragments[name].type_condition.name.value)
            if condition is not None:
                self.fragments[name] = self.selection_set(fragments[name].selection_set, condition)

    def selection_set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> _Cost:
        cost = _Cost()
        self._add(cost, selection_set, parent, set())
        return cost

    def _add(
        self,
        cost: _Cost,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        spread: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(cost, selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                if condition is not None:
                    self._add(cost, selection.selection_set, condition, spread)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in spread:
                spread.add(selection.name.value)
                found = self.fragments.get(selection.name.value)
                if found is not None:
                    cost.add(found)

    def _field(self, cost: _Cost, node: FieldNode, parent: GraphQLNamedType) -> None:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType):
            return
        definition = parent.fields.get(name)
        if definition is None:
            return
        named = get_named_type(definition.type)
        key = (parent.name, name)
        weight = self.weights.weights.get(key, 1 if is_composite_type(named) else 0)
        sizing = self.weights.sizes.get(key)
        slice_size = self._slice(node, definition.args, sizing) if sizing else None
        below = 0
        if node.selection_set is not None:
            children = self.selection_set(node.selection_set, named)
            sized = sizing.sized_fields if sizing and slice_size is not None else ()
            below = children.total(dict.fromkeys(sized, slice_size or 0))
        unit = weight + below
        references = self._representations(node) if name == "_entities" else None
        if references is not None:  # a gateway's batch: as many entities as references sent
            cost.fixed += unit * references
            return
        if not _is_list(definition.type):
            cost.fixed += unit
        elif sizing is not None and slice_size is not None and not sizing.sized_fields:
            cost.fixed += unit * slice_size
        else:
            assumed = sizing.assumed if sizing and sizing.assumed is not None else None
            cost.list(name, unit, DEFAULT_LIST_SIZE if assumed is None else assumed)

    def _representations(self, node: FieldNode) -> int | None:
        """How many entity references ``_entities`` is sent, when the request says."""
        for argument in node.arguments or ():
            if argument.name.value != "representations":
                continue
            value: Any = argument.value
            if isinstance(value, VariableNode):
                self.read.add(value.name.value)
                given = self.variables.get(value.name.value)
                return len(given) if isinstance(given, list) else None
            if isinstance(value, ListValueNode):
                return len(value.values)
        return None

    def _slice(self, node: FieldNode, arguments: Mapping[str, Any], sizing: Sizing) -> int | None:
        """The size a slicing argument gives (the largest, if several), or None."""
        sizes = []
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name in sizing.slicing:
            value: Any = None
            node_value = given.get(name)
            if isinstance(node_value, IntValueNode):
                value = int(node_value.value)
            elif isinstance(node_value, VariableNode):
                self.read.add(node_value.name.value)
                value = self.variables.get(node_value.name.value)
            if value is None and name in arguments:
                value = arguments[name].default_value
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(max(value, 0))
        return max(sizes) if sizes else None


def _is_list(field_type: Any) -> bool:
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return isinstance(inner, GraphQLList)
