"""SOQL over the store: binding a parsed query to the schema, running it, paging it.

`sandbox.querylang.soql` parses the text; this module gives the names meaning. Objects,
fields and relationship paths resolve case-insensitively and come back in their canonical
spelling, in the order selected; filter values are type-checked against the fields before any
row is read (so a bad query fails the same on an empty table); ids in filters are accepted in
15- or 18-character form. A conjunct on ``Id``, on a lookup field (``AccountId``) or on an
external id, with ``=`` or ``IN``, is answered from the store's indexes instead of a scan.

Results come in pages (2,000 rows, or the ``batchSize`` a client asks for, at least 200); the
rest stays behind a query locator that ``nextRecordsUrl`` names.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain import sfid
from sandbox.querylang.ast import (
    And,
    Comparison,
    Condition,
    CountAll,
    DateLiteral,
    FieldRef,
    InList,
    Like,
    Not,
    Operand,
    Or,
    OrderItem,
    QuerySyntaxError,
    SoqlQuery,
)
from sandbox.querylang.evaluate import QueryTypeError, compile_condition, order_rows
from sandbox.querylang.lexer import LexError, TokenKind, tokenize
from sandbox.querylang.soql import (
    MAX_SOQL_OFFSET,
    SoqlSyntaxError,
    field_position,
    format_soql_error,
    parse_soql,
)
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.records import attributes, value_of
from sandbox.salesforce.schema import FieldDef, ObjectDef, Schema
from sandbox.salesforce.store import Record, Store
from sandbox.salesforce.values import to_json

PAGE_SIZE = 2_000
MIN_BATCH = 200
MAX_RELATIONSHIP_DEPTH = 5

_CUSTOM_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)
_CUSTOM_OBJECT_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity "
    "name. Please reference your WSDL or the describe call for the appropriate names."
)
_CUSTOM_RELATIONSHIP_HINT = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after the "
    "custom relationship name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_EXPECTED = {
    "currency": "double",
    "double": "double",
    "percent": "double",
    "int": "integer",
    "boolean": "boolean",
    "date": "date",
    "datetime": "dateTime",
}


@dataclass(frozen=True)
class Step:
    """One hop of a relationship path: the lookup field and the object it reaches."""

    field: FieldDef
    target: ObjectDef


@dataclass
class Bound:
    """A field reference resolved against the schema."""

    ref: FieldRef
    steps: tuple[Step, ...]
    field: FieldDef
    owner: ObjectDef
    read: Callable[[Record], Any]


@dataclass
class Plan:
    """A query ready to run: what to read, filter, order and answer."""

    obj: ObjectDef
    select: list[Bound] | None  # None: COUNT() alone
    aggregates: list[tuple[str, Bound | None]]  # (output key, counted field) for COUNT(field)
    test: Callable[[Record], bool] | None
    candidates: Callable[[], list[str]] | None
    order: list[tuple[OrderItem, Callable[[Record], Any]]]
    limit: int | None
    offset: int | None
    walk: Callable[[], Iterator[str] | None] | None = None  # ids in ORDER BY order, for LIMIT
    projectors: dict[str, Callable[[Record], dict[str, Any]]] = field(default_factory=dict)


@dataclass
class _Nested:
    """A relationship in a projection: its output key, the lookup, and what is read there."""

    key: str
    step: Step
    node: _Node


@dataclass
class _Node:
    """What a projection reads on one record: plain fields and nested relationships, in the
    order they were first selected."""

    obj: ObjectDef
    entries: list[tuple[FieldDef, Callable[[Record], Any]] | _Nested] = field(default_factory=list)

    def child(self, step: Step) -> _Node:
        key = step.field.relationship_name or step.field.name
        for entry in self.entries:
            if isinstance(entry, _Nested) and entry.key == key:
                return entry.node
        nested = _Nested(key, step, _Node(step.target))
        self.entries.append(nested)
        return nested.node

    def add(self, target: FieldDef, read: Callable[[Record], Any]) -> None:
        if any(not isinstance(e, _Nested) and e[0].name == target.name for e in self.entries):
            return
        self.entries.append((target, read))


@dataclass
class Locator:
    plan: Plan
    rows: list[Record]
    batch: int
    version: str
    endpoint: str
    last_used: float = 0.0


class QueryEngine:
    """Runs SOQL for the REST ``query`` / ``queryAll`` resources."""

    def __init__(
        self,
        schema: Schema,
        store: Store,
        *,
        today: Callable[[], dt.date] | None = None,
        max_locators: int = 10,
        locator_ttl_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        use_indexes: bool = True,
    ) -> None:
        self.schema = schema
        self.store = store
        # False answers every query by scanning the table (the reference the indexed plans
        # are tested and benchmarked against); the answers are the same.
        self.use_indexes = use_indexes
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._locators: OrderedDict[str, Locator] = OrderedDict()
        self._max_locators = max_locators
        self._ttl = locator_ttl_seconds
        self._clock = clock
        self._serial = itertools.count(1)

    # ------------------------------------------------------------------ entry points

    def run(
        self, text: str, *, include_deleted: bool, version: str, batch_size: int | None = None
    ) -> dict[str, Any]:
        """The first page of ``text``'s results, as the query resource answers it."""
        try:
            query = parse_soql(text)
        except SoqlSyntaxError as exc:
            raise ApiError(exc.error_code, exc.salesforce_message) from None
        except QuerySyntaxError as exc:
            raise ApiError("MALFORMED_QUERY", exc.message) from None
        plan = self.bind(query, text)
        try:
            rows = self._execute(plan, include_deleted)
        except QueryTypeError as exc:
            raise ApiError("INVALID_QUERY_FILTER_OPERATOR", exc.message) from None
        if plan.select is None:
            return {"totalSize": len(rows), "done": True, "records": []}
        if plan.aggregates:
            return self._aggregate(plan, rows)
        batch = PAGE_SIZE if batch_size is None else max(MIN_BATCH, min(PAGE_SIZE, batch_size))
        if plan.offset:  # an OFFSET query answers one batch and never a locator
            return self._page(plan, rows, 0, batch, version, None, len(rows))
        endpoint = "queryAll" if include_deleted else "query"
        locator = None
        if len(rows) > batch:
            locator = self._open(Locator(plan, rows, batch, version, endpoint))
        return self._page(plan, rows, 0, batch, version, locator, len(rows), endpoint=endpoint)

    def more(self, locator_text: str, version: str) -> dict[str, Any]:
        """The page a ``nextRecordsUrl`` (``01g...-2000``) names."""
        self._expire()
        locator_id, _, offset_text = locator_text.partition("-")
        locator = self._locators.get(locator_id)
        if locator is None or not offset_text.isdigit():
            raise ApiError("INVALID_QUERY_LOCATOR", "invalid query locator")
        offset = int(offset_text)
        if offset > len(locator.rows):
            raise ApiError("INVALID_QUERY_LOCATOR", "invalid query locator")
        locator.last_used = self._clock()
        self._locators.move_to_end(locator_id)
        return self._page(
            locator.plan,
            locator.rows,
            offset,
            locator.batch,
            version,
            locator_id,
            len(locator.rows),
            endpoint=locator.endpoint,
        )

    # ------------------------------------------------------------------ binding

    def bind(self, query: SoqlQuery, text: str) -> Plan:
        obj = self.schema.object(query.sobject)
        if obj is None:
            raise ApiError(
                "INVALID_TYPE",
                _placed(
                    text,
                    _from_position(text, query.sobject),
                    f"sObject type '{query.sobject}' is not supported. {_CUSTOM_OBJECT_HINT}",
                ),
            )
        if query.offset is not None and query.offset > MAX_SOQL_OFFSET:
            raise ApiError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_SOQL_OFFSET}"
            )
        select: list[Bound] | None = []
        aggregates: list[tuple[str, Bound | None]] = []
        unnamed = 0
        for selected in query.fields:
            if isinstance(selected, CountAll):
                item = selected
                if item.field is None:
                    select = None
                    continue
                counted = self._bind_path(obj, item.field, text)
                key = item.alias or f"expr{unnamed}"
                if item.alias is None:
                    unnamed += 1
                aggregates.append((key, counted))
                continue
            assert select is not None
            select.append(self._bind_path(obj, selected, text))
        accessors: dict[FieldRef, Bound] = {}

        def accessor(ref: FieldRef) -> Callable[[Record], Any]:
            bound = accessors.get(ref)
            if bound is None:
                bound = accessors[ref] = self._bind_path(obj, ref, text)
            return bound.read

        test = None
        candidates = None
        condition: Condition | None = None
        if query.where is not None:
            condition = self._check_condition(obj, query.where, text)
            test = compile_condition(
                condition, accessor, today=self._today(), text_case_insensitive=True
            )
            if self.use_indexes:
                candidates = self._index_plan(obj, condition)
        order: list[tuple[OrderItem, Callable[[Record], Any]]] = []
        for ordered in query.order_by:
            bound = self._bind_path(obj, ordered.field, text)
            if not bound.field.sortable:
                raise ApiError(
                    "INVALID_FIELD",
                    _placed(
                        text,
                        field_position(text, ordered.field),
                        f"field '{bound.field.name}' can not be sorted in a query call",
                    ),
                )
            order.append((ordered, _sort_reader(bound)))
        walk = None
        if candidates is None and query.limit is not None and self.use_indexes:
            walk = self._walk_plan(obj, query.order_by, condition, text)
        return Plan(
            obj, select, aggregates, test, candidates, order, query.limit, query.offset, walk
        )

    def _bind_path(self, obj: ObjectDef, ref: FieldRef, text: str) -> Bound:
        parts = list(ref.path)
        if (
            len(parts) > 1
            and parts[0].lower() == obj.name.lower()
            and obj.relationship(parts[0]) is None
        ):
            parts = parts[1:]  # "Account.Name" in a query FROM Account
        current = obj
        steps: list[Step] = []
        for name in parts[:-1]:
            ref_field = current.relationship(name)
            if ref_field is None:
                raise ApiError(
                    "INVALID_FIELD",
                    _placed(
                        text,
                        field_position(text, ref),
                        f"Didn't understand relationship '{name}' in field path. "
                        f"{_CUSTOM_RELATIONSHIP_HINT}",
                    ),
                )
            target = self.schema.objects[ref_field.reference_to[0]]
            steps.append(Step(ref_field, target))
            current = target
        if len(steps) > MAX_RELATIONSHIP_DEPTH:
            raise ApiError(
                "MALFORMED_QUERY",
                _placed(
                    text,
                    field_position(text, ref),
                    "SOQL statements cannot query more than 5 levels of relationships",
                ),
            )
        found = current.field(parts[-1])
        if found is None:
            raise ApiError(
                "INVALID_FIELD",
                _placed(
                    text,
                    field_position(text, ref),
                    f"No such column '{parts[-1]}' on entity '{current.name}'. "
                    f"{_CUSTOM_FIELD_HINT}",
                ),
            )
        return Bound(ref, tuple(steps), found, current, self._reader(obj, tuple(steps), found))

    def _reader(
        self, obj: ObjectDef, steps: tuple[Step, ...], target: FieldDef
    ) -> Callable[[Record], Any]:
        store = self.store
        if not steps and target.derived is None and not target.compound_of:
            name = target.name
            return lambda record: record.get(name)
        if not steps:
            return lambda record: value_of(store, obj, record, target)

        owner = steps[-1].target

        def read(record: Record) -> Any:
            current_obj, current = obj, record
            for step in steps:
                parent_id = value_of(store, current_obj, current, step.field)
                if parent_id is None:
                    return None
                parent = store.get(step.target.name, parent_id)
                if parent is None:
                    return None
                current_obj, current = step.target, parent
            return value_of(store, owner, current, target)

        return read

    # ------------------------------------------------------------------ filter checks

    def _check_condition(self, obj: ObjectDef, condition: Condition, text: str) -> Condition:
        """The condition with its values checked against the field types (ids made 18 long)."""
        match condition:
            case And(items):
                return And(tuple(self._check_condition(obj, item, text) for item in items))
            case Or(items):
                return Or(tuple(self._check_condition(obj, item, text) for item in items))
            case Not(item):
                return Not(self._check_condition(obj, item, text))
            case Comparison(ref, op, value):
                bound = self._filterable(obj, ref, text)
                return Comparison(ref, op, self._check_value(bound, value, text))
            case InList(ref, values, negated):
                bound = self._filterable(obj, ref, text)
                checked = tuple(self._check_value(bound, value, text) for value in values)
                return InList(ref, checked, negated)
            case Like(ref, pattern, negated):
                bound = self._filterable(obj, ref, text)
                if not bound.field.is_text:
                    kind = "id" if bound.field.is_id else bound.field.type
                    raise ApiError(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        _placed(
                            text, field_position(text, ref), f"invalid operator on {kind} field"
                        ),
                    )
                return Like(ref, pattern, negated)
        raise ApiError("MALFORMED_QUERY", "unsupported condition")

    def _filterable(self, obj: ObjectDef, ref: FieldRef, text: str) -> Bound:
        bound = self._bind_path(obj, ref, text)
        if not bound.field.filterable:
            raise ApiError(
                "INVALID_FIELD",
                _placed(
                    text,
                    field_position(text, ref),
                    f"field '{bound.field.name}' can not be filtered in a query call",
                ),
            )
        return bound

    def _check_value(self, bound: Bound, value: Operand, text: str) -> Operand:
        f = bound.field
        if value is None:
            return None
        ok: bool
        if f.is_id:
            if isinstance(value, str):
                if value == "":
                    return value
                try:
                    return sfid.to18(value)
                except ValueError:
                    raise ApiError(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        _placed(
                            text, field_position(text, bound.ref), f"invalid ID field: {value}"
                        ),
                    ) from None
            ok = False
        elif f.is_text:
            ok = isinstance(value, str)
        elif f.is_number:
            ok = isinstance(value, int | Decimal) and not isinstance(value, bool)
        elif f.type == "boolean":
            ok = isinstance(value, bool)
        elif f.type == "date":
            ok = isinstance(value, DateLiteral) or (
                isinstance(value, dt.date) and not isinstance(value, dt.datetime)
            )
        elif f.type == "datetime":
            ok = isinstance(value, DateLiteral | dt.datetime)
        else:
            ok = True
        if isinstance(value, DateLiteral) and f.type not in ("date", "datetime"):
            ok = False
        if ok:
            return value
        expected = _EXPECTED.get(f.type, "string")
        quoting = "should" if expected == "string" else "should not"
        raise ApiError(
            "INVALID_QUERY_FILTER_OPERATOR",
            _placed(
                text,
                field_position(text, bound.ref),
                f"value of filter criterion for field '{bound.ref.dotted}' must be of type "
                f"{expected} and {quoting} be enclosed in quotes",
            ),
        )

    # ------------------------------------------------------------------ index use

    def _index_plan(self, obj: ObjectDef, condition: Condition) -> Callable[[], list[str]] | None:
        """Candidate ids from the most selective indexable conjunct, or None to scan."""
        conjuncts = condition.items if isinstance(condition, And) else (condition,)
        best: tuple[str, str, tuple[str, ...]] | None = None
        for item in conjuncts:
            values: tuple[str, ...]
            if isinstance(item, Comparison) and item.op == "=" and isinstance(item.value, str):
                ref, values = item.field, (item.value,)
            elif (
                isinstance(item, InList)
                and not item.negated
                and all(isinstance(v, str) for v in item.values)
            ):
                ref, values = item.field, tuple(v for v in item.values if isinstance(v, str))
            else:
                continue
            if len(ref.path) != 1:
                continue
            f = obj.field(ref.path[0])
            if f is None or f.derived is not None:
                continue
            kind = "id" if f.name == "Id" else self.store.is_indexed(obj.name, f.name)
            if kind is None:
                continue
            if best is None or len(values) < len(best[2]):
                best = (kind, f.name, values)
        if best is None:
            return None
        kind, name, values = best
        store, sobject = self.store, obj.name

        def candidates() -> list[str]:
            ids: dict[str, None] = {}
            for value in values:
                if kind == "id":
                    ids[value] = None
                elif kind == "ref":
                    ids.update(dict.fromkeys(store.children(sobject, name, value)))
                else:
                    ids.update(dict.fromkeys(store.matching(sobject, name, value)))
            return list(ids)

        return candidates

    def _walk_plan(
        self,
        obj: ObjectDef,
        order_by: tuple[OrderItem, ...],
        condition: Condition | None,
        text: str,
    ) -> Callable[[], Iterator[str] | None] | None:
        """For ``ORDER BY f ASC LIMIT n`` on a text field the store keeps in order, and a
        WHERE that rejects a null ``f``: the ids in that order, read until n rows match."""
        if len(order_by) != 1 or order_by[0].descending or condition is None:
            return None
        bound = self._bind_path(obj, order_by[0].field, text)
        name = bound.field.name
        if bound.steps or bound.field.derived is not None or bound.field.type == "picklist":
            return None
        if self.store.in_order(obj.name, name) is None:
            return None
        conjuncts = condition.items if isinstance(condition, And) else (condition,)
        if not any(self._rejects_null(obj, item, name, text) for item in conjuncts):
            return None  # nulls sort first and are not in the order kept
        store, sobject = self.store, obj.name
        return lambda: store.in_order(sobject, name)

    def _rejects_null(self, obj: ObjectDef, item: Condition, name: str, text: str) -> bool:
        """Whether ``item`` is false when the plain field ``name`` is null (SOQL nulls)."""
        match item:
            case Comparison(ref, op, value):
                rejects = op == "!=" if value is None else op != "!="
            case InList(ref, values, negated):
                rejects = not negated and None not in values
            case Like(ref, _, negated):
                rejects = not negated
            case _:
                return False
        bound = self._bind_path(obj, ref, text)
        return rejects and not bound.steps and bound.field.name == name

    # ------------------------------------------------------------------ execution

    def _execute(self, plan: Plan, include_deleted: bool) -> list[Record]:
        table = self.store.tables[plan.obj.name]
        ordered = plan.walk() if plan.walk is not None else None
        if ordered is not None and plan.limit is not None:
            return self._walk(plan, table, ordered, include_deleted)
        source: Iterable[Record]
        if plan.candidates is not None:
            found = (table.get(record_id) for record_id in plan.candidates())
            source = [record for record in found if record is not None]
        else:
            source = table.values()
        test = plan.test
        rows = [
            record
            for record in source
            if (include_deleted or not record.get("IsDeleted")) and (test is None or test(record))
        ]
        if plan.order:
            readers = {item.field: read for item, read in plan.order}
            rows = order_rows(
                rows,
                [item for item, _ in plan.order],
                lambda row, ref: readers[ref](row),
                nulls_first_for_asc=True,
                nulls_first_for_desc=True,
                text_case_insensitive=True,
            )
        start = plan.offset or 0
        end = None if plan.limit is None else start + plan.limit
        return rows[start:end]

    @staticmethod
    def _walk(
        plan: Plan, table: dict[str, Record], ordered: Iterator[str], include_deleted: bool
    ) -> list[Record]:
        """The rows of ``_execute``, read in ORDER BY order until OFFSET + LIMIT match."""
        assert plan.limit is not None
        start = plan.offset or 0
        wanted = start + plan.limit
        test = plan.test
        rows: list[Record] = []
        if wanted > 0:
            for record_id in ordered:
                record = table[record_id]
                if (include_deleted or not record.get("IsDeleted")) and (
                    test is None or test(record)
                ):
                    rows.append(record)
                    if len(rows) >= wanted:
                        break
        return rows[start:]

    def _aggregate(self, plan: Plan, rows: list[Record]) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for key, counted in plan.aggregates:
            assert counted is not None
            record[key] = sum(1 for row in rows if counted.read(row) is not None)
        return {"totalSize": 1, "done": True, "records": [record]}

    def _page(
        self,
        plan: Plan,
        rows: list[Record],
        start: int,
        batch: int,
        version: str,
        locator: str | None,
        total: int,
        *,
        endpoint: str = "query",
    ) -> dict[str, Any]:
        end = min(start + batch, total)
        done = locator is None or end >= total
        page: dict[str, Any] = {"totalSize": total, "done": done}
        if not done:
            page["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{end}"
        project = self._projector(plan, version)
        page["records"] = [project(row) for row in rows[start:end]]
        return page

    def _projector(self, plan: Plan, version: str) -> Callable[[Record], dict[str, Any]]:
        """``row -> record as the query resource answers it``, compiled once per plan.

        Fields come in the order selected; the fields read through one relationship share
        one nested record (``"Owner": {"attributes": ..., "Name": ...}``), or null when the
        lookup is empty. Each relationship is resolved once per row, however many of its
        fields are selected.
        """
        cached = plan.projectors.get(version)
        if cached is not None:
            return cached
        assert plan.select is not None
        root = _Node(plan.obj)
        for bound in plan.select:
            node = root
            for step in bound.steps:
                node = node.child(step)
            node.add(bound.field, self._reader(node.obj, (), bound.field))
        store = self.store

        def build(node: _Node, record: Record) -> dict[str, Any]:
            out: dict[str, Any] = {"attributes": attributes(node.obj, record["Id"], version)}
            for entry in node.entries:
                if isinstance(entry, _Nested):
                    parent_id = value_of(store, node.obj, record, entry.step.field)
                    parent = store.get(entry.step.target.name, parent_id) if parent_id else None
                    out[entry.key] = None if parent is None else build(entry.node, parent)
                    continue
                target, read = entry
                value = read(record)
                out[target.name] = value if target.compound_of else to_json(target, value)
            return out

        def project(row: Record) -> dict[str, Any]:
            return build(root, row)

        plan.projectors[version] = project
        return project

    # ------------------------------------------------------------------ locators

    def _open(self, locator: Locator) -> str:
        self._expire()
        while len(self._locators) >= self._max_locators:
            self._locators.popitem(last=False)
        locator.last_used = self._clock()
        number = next(self._serial)
        key = sfid.make("01g", 1_000_000_000 + number)
        self._locators[key] = locator
        return key

    def _expire(self) -> None:
        now = self._clock()
        stale = [key for key, loc in self._locators.items() if now - loc.last_used > self._ttl]
        for key in stale:
            del self._locators[key]


def _sort_reader(bound: Bound) -> Callable[[Record], Any]:
    """Picklists sort in their defined order, as Salesforce sorts them; the rest by value."""
    if bound.field.type != "picklist" or not bound.field.picklist:
        return bound.read
    rank = {entry.value: index for index, entry in enumerate(bound.field.picklist)}
    read = bound.read

    def ranked(record: Record) -> Any:
        value = read(record)
        return None if value is None else rank.get(value, len(rank))

    return ranked


def _placed(text: str, position: int | None, message: str) -> str:
    return message if position is None else format_soql_error(text, position, message)


def _from_position(text: str, name: str) -> int | None:
    """Where the FROM clause names its object, for the INVALID_TYPE caret."""
    try:
        tokens = tokenize(text, "soql")
    except LexError:
        return None
    for before, token in itertools.pairwise(tokens):
        if before.is_word("FROM") and token.kind is TokenKind.IDENT and token.text == name:
            return token.pos
    return None
