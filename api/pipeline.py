"""One request pipeline for every way in: HTTP GET and POST, graphql-transport-ws and
server-sent events all run an operation through `Pipeline.run`, with the same checks in the
same order:

1. the caller is known (the transport authenticated it before handing over anything else,
   so bad credentials cost no parsing);
2. the variables are a JSON object of bounded depth and size, their text acceptable
   (`api.inputs`; the document's string literals are checked with the document, and the
   scalars read Decimals and Dates strictly, `schema.scalars`);
3. a persisted query's hash is resolved to its document (`api.persisted`);
4. the document is parsed (at most `Limits.max_tokens` tokens), its shape checked in one
   linear pass (`api.analysis`: depth, aliases, repeated fields), then validated — in a
   worker thread, so that no document, however built, holds the event loop (a document of
   5,000 tokens takes some 100 ms to parse and validate); the outcome is cached by the
   document's text and by whether the caller may introspect;
5. the operation is chosen and checked against what the transport carries;
6. its cost is computed (`api.cost`; on the worker thread, then kept by the document and the
   values of the variables it depends on) and refused over `Limits.max_cost` with
   COST_LIMIT_EXCEEDED, before any upstream call;
7. the caller's budget per minute is charged (`api.budget`), or the operation refused;
8. it runs, and the answer carries its cost in ``extensions.cost`` (over HTTP, the budget
   left is in ``RateLimit-*`` headers).

Problems of the request itself (a persisted-query refusal, an operation the transport does
not carry, a spent budget) are raised as exceptions each transport turns into its own
answer; problems of the document and its variables (syntax, validation, limits, cost,
unacceptable values) come back as an `Outcome` with ``pre_execution`` set.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import logging
import sys
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.execution import create_source_event_stream
from graphql.execution.executor_throwing_on_incremental import ExecutorThrowingOnIncremental
from graphql.validation import NoSchemaIntrospectionCustomRule

from api import analysis, inputs
from api.budget import Charge, CostBudget
from api.cost import CostCalculator, Weights
from api.persisted import PersistedQueries
from api.response_cache import CachedAnswer, ResponseCache, ResponsePlan, plan_of
from cache.bounded import SizedLRUCache
from cache.reads import ReadLog
from domain.caller import Caller
from schema.scalars import DEFAULT_DATE_WINDOW, date_window

logger = logging.getLogger("accord.graphql")


@dataclass(frozen=True)
class Limits:
    max_tokens: int = 5_000  # tokens in one document
    max_depth: int = 15  # nested fields, introspection excepted
    max_aliases: int = 30  # each alias of a list can cost upstream calls
    max_repeats: int = 10  # fields sharing one response name in one selection set
    max_cost: int = 100_000  # an operation's cost (IBM GraphQL Cost Directives)
    document_cache_size: int = 1_000  # parsed and validated documents kept
    document_cache_bytes: int = 32 * 1024 * 1024  # and the memory they may take
    date_window_days: int = DEFAULT_DATE_WINDOW  # how far from today a Date input may lie


class Introspection(enum.StrEnum):
    ON = "on"  # anyone Accord serves may introspect
    AUTHENTICATED = "authenticated"  # callers with credentials only
    OFF = "off"


class Transport(enum.Enum):
    HTTP_GET = "GET"
    HTTP_POST = "POST"
    WEBSOCKET = "graphql-transport-ws"
    SSE_GET = "server-sent events over GET"
    SSE_POST = "server-sent events"


_Q, _M, _S = OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION
CARRIES: dict[Transport, frozenset[OperationType]] = {
    Transport.HTTP_GET: frozenset({_Q}),  # a GET must not change anything
    Transport.HTTP_POST: frozenset({_Q, _M}),  # a subscription needs a stream
    Transport.WEBSOCKET: frozenset({_Q, _M, _S}),
    Transport.SSE_GET: frozenset({_Q, _S}),
    Transport.SSE_POST: frozenset({_Q, _M, _S}),
}


class OperationNotCarried(Exception):
    """The transport does not carry this kind of operation (a mutation over GET...)."""

    def __init__(self, operation: OperationType, transport: Transport) -> None:
        super().__init__(f"{operation.value} operations are not served over {transport.value}")
        self.operation = operation
        self.transport = transport


# What a parsed document takes per token (its nodes and locations), measured with tracemalloc
# on graphql-core's parser; its text comes on top.
BYTES_PER_TOKEN = 500
COSTS_PER_DOCUMENT = 64  # variable values whose cost a document keeps


@dataclass(frozen=True, eq=False)
class Prepared:
    """A document parsed, measured and validated: ``document`` is None when it failed.

    ``size`` is roughly what keeping it takes (its text and its parsed nodes), so that the
    cache of documents is bounded in bytes: a document padded with a megabyte of comments is
    one token but a megabyte of memory. The costs of its operations are kept with it, by the
    values of the variables each depends on, and forgotten with it."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    size: int = 0
    cost_inputs: dict[str | None, tuple[str, ...]] = field(default_factory=dict)
    costs: dict[tuple[str | None, str], int] = field(default_factory=dict)
    plans: dict[str | None, ResponsePlan] = field(default_factory=dict)  # by operation name

    @classmethod
    def of(
        cls, text: str, document: DocumentNode | None, errors: Sequence[GraphQLError]
    ) -> Prepared:
        return cls(document, tuple(errors), len(text) + BYTES_PER_TOKEN * _tokens(document))


def _size_of(prepared: Prepared) -> int:
    return prepared.size


def _tokens(document: DocumentNode | None) -> int:
    """How many tokens the parsed ``document`` holds (a few for one that did not parse)."""
    token = document.loc.start_token if document is not None and document.loc else None
    count = 0
    while token is not None:
        count += 1
        token = token.next
    return max(count, 8)


@dataclass
class Outcome:
    """What running an operation gave: one ``result``, or a ``stream`` of them (a
    subscription); ``pre_execution`` when the document was refused before running."""

    result: ExecutionResult | None = None
    stream: AsyncIterator[ExecutionResult] | None = None
    pre_execution: bool = False
    operation: OperationType | None = None
    name: str | None = None  # the operation's name, once one is chosen (None: unnamed)
    extensions: dict[str, Any] = field(default_factory=dict)
    charge: Charge | None = None  # what the caller's budget holds after this operation
    answer: CachedAnswer | None = None  # the kept answer this result is (or was just kept as)
    cached: bool = False  # served from the response cache
    cache_control: str | None = None  # for GET: how long an HTTP cache may keep the answer


SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL while another waits for it
ContextFor = Callable[[Caller], Any]
_INVALID = {"code": "GRAPHQL_VALIDATION_FAILED"}


class Pipeline:
    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        limits: Limits = Limits(),
        persisted: PersistedQueries | None = None,
        budget: CostBudget | None = None,
        introspection: Introspection = Introspection.ON,
        executor_class: Any = None,
        responses: ResponseCache | None = None,
    ) -> None:
        self.schema = schema
        self.responses = responses
        self.limits = limits
        self.persisted = persisted or PersistedQueries()
        self.budget = budget
        self.introspection = introspection
        self.costs = CostCalculator(schema, Weights.from_schema(schema))
        self._shape = analysis.ShapeLimits(limits.max_depth, limits.max_aliases, limits.max_repeats)
        self._execution = {"executor_class": executor_class} if executor_class else {}
        self._documents: SizedLRUCache[tuple[str, bool], Prepared] = SizedLRUCache(
            limits.document_cache_size, limits.document_cache_bytes, sizeof=_size_of
        )
        self._preparing: dict[tuple[str, bool], asyncio.Future[Prepared]] = {}
        # One thread: the GIL runs one at a time anyway, and each more would compete with the
        # event loop for it. The loop waits at most the interpreter's switch interval for the
        # GIL while the thread analyses; 1 ms (instead of 5) keeps a probe's answer within a
        # few of them.
        self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-analysis")
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    def may_introspect(self, caller: Caller) -> bool:
        if self.introspection is Introspection.ON:
            return True
        return self.introspection is Introspection.AUTHENTICATED and not caller.anonymous

    # ------------------------------------------------------------------ documents

    def cached(self, text: str, introspect: bool = True) -> Prepared | None:
        return self._documents.get((text, introspect))

    async def prepare(self, text: str, *, introspect: bool = True) -> Prepared:
        """Parse, measure and validate ``text`` (in a worker thread), cached by its text."""
        key = (text, introspect)
        found = self._documents.get(key)
        if found is not None:
            return found
        pending = self._preparing.get(key)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(self._threads, self._prepare, text, introspect)
            self._preparing[key] = pending
            pending.add_done_callback(lambda _: self._preparing.pop(key, None))
        prepared = await asyncio.shield(pending)
        self._documents[key] = prepared
        return prepared

    def _prepare(self, text: str, introspect: bool) -> Prepared:
        try:
            document = parse(text, max_tokens=self.limits.max_tokens)
            # The linear checks first: validation compares repeated fields pairwise.
            errors = analysis.check(document, self._shape)
            if not errors:
                rules = specified_rules if introspect else (*specified_rules, _NoIntrospection)
                errors = validate(self.schema, document, rules, hide_suggestions=not introspect)
            if not errors:
                errors = inputs.document_problems(document)
        except GraphQLError as error:
            return Prepared.of(text, None, (error,))
        except RecursionError:
            nested = GraphQLError("the document is nested too deeply", extensions=_INVALID)
            return Prepared.of(text, None, (nested,))
        except Exception:
            # A bug of the analysis: logged, and the document refused rather than run unchecked.
            logger.exception("analysing a document failed")
            bug = GraphQLError(
                "Internal server error", extensions={"code": "INTERNAL_SERVER_ERROR"}
            )
            return Prepared.of(text, None, (bug,))
        return Prepared.of(text, None if errors else document, errors)

    # ------------------------------------------------------------------ operations

    async def run(
        self,
        caller: Caller,
        params: Mapping[str, Any],
        transport: Transport,
        context_for: ContextFor,
        *,
        client: str | None = None,
    ) -> Outcome:
        """Run the operation ``params`` describe (``query``, ``variables``, ``operationName``,
        ``extensions``) for ``caller``. ``client`` (an address) tells anonymous callers apart
        for their budgets."""
        variables = params.get("variables")
        problem = inputs.variables_problem(variables)
        if problem is not None:
            return Outcome(ExecutionResult(None, [problem]), pre_execution=True)
        resolved = await self.persisted.resolve(params.get("query"), params.get("extensions"))
        prepared = await self.prepare(resolved.document, introspect=self.may_introspect(caller))
        if resolved.register is not None and prepared.document is not None:
            await self.persisted.register(resolved.register, resolved.document)
        if prepared.document is None:
            return Outcome(ExecutionResult(None, list(prepared.errors)), pre_execution=True)
        document = prepared.document
        name = params.get("operationName")
        operation = select_operation(document, name)
        if operation is None:
            message = (
                f"Unknown operation named '{name}'."
                if name
                else "Must provide operation name if query contains multiple operations."
            )
            return Outcome(ExecutionResult(None, [GraphQLError(message)]), pre_execution=True)
        kind = operation.operation
        chosen = operation.name.value if operation.name else None
        if kind not in CARRIES[transport]:
            raise OperationNotCarried(kind, transport)

        cost = await self._cost(prepared, document, operation, variables)
        if cost > self.limits.max_cost:
            refusal = GraphQLError(
                f"the operation costs {cost}, over the limit of {self.limits.max_cost}",
                extensions={
                    "code": "COST_LIMIT_EXCEEDED",
                    "cost": cost,
                    "limit": self.limits.max_cost,
                },
            )
            return Outcome(
                ExecutionResult(None, [refusal]), pre_execution=True, operation=kind, name=chosen
            )
        charge = await self._charge(caller, client, cost)
        extensions = {"cost": {"requested": cost, "limit": self.limits.max_cost}}

        # A persisted or registered query's answer may be kept (api.response_cache); the checks
        # above (limits, cost, budget) run for it all the same.
        plan: ResponsePlan | None = None
        key = None
        if self.responses is not None and resolved.digest is not None and kind is _Q:
            plan = self._plan(prepared, document, operation)
            if plan.cacheable:
                key = self.responses.key(resolved.digest, name, variables, caller.role)
                hit = self.responses.get(key)
                if hit is not None:
                    return Outcome(
                        hit.result,
                        operation=kind,
                        extensions=extensions,
                        charge=charge,
                        answer=hit,
                        cached=True,
                        cache_control=_cache_control(plan, hit.max_age(self.responses.now())),
                    )

        context = context_for(caller)
        date_window.set(self.limits.date_window_days)  # read as variables are coerced
        arguments: dict[str, Any] = {
            "context_value": context,
            "variable_values": variables,
            "operation_name": name,
            **self._execution,
        }
        if kind is OperationType.SUBSCRIPTION:
            source = await self._event_stream(document, context, variables, name)
            if isinstance(source, ExecutionResult):
                return Outcome(
                    source, operation=kind, name=chosen, extensions=extensions, charge=charge
                )
            return Outcome(
                stream=_responses(
                    source, self.schema, document, operation, context, variables, self._execution
                ),
                operation=kind,
                name=chosen,
                extensions=extensions,
                charge=charge,
            )
        outcome = execute(self.schema, document, **arguments)
        result = await outcome if inspect.isawaitable(outcome) else outcome
        _add_context_extensions(result, context)
        # Variable coercion failures come back without data, before any resolver ran.
        pre_execution = (
            result.data is None
            and bool(result.errors)
            and all(error.path is None for error in result.errors or ())
        )
        kept: CachedAnswer | None = None
        cache_control = None
        reads = getattr(context, "reads", None)
        clean = not result.errors and not (result.extensions and "stale" in result.extensions)
        if key is not None and plan is not None and clean and isinstance(reads, ReadLog):
            assert self.responses is not None
            kept = self.responses.put(key, result, plan, reads)
            if not reads.untracked and reads.targets:
                cache_control = _cache_control(plan, int(self.responses.lifetime(plan, reads)))
        return Outcome(
            result,
            pre_execution=pre_execution,
            operation=kind,
            name=chosen,
            extensions=extensions,
            charge=charge,
            answer=kept,
            cache_control=cache_control,
        )

    async def _event_stream(
        self,
        document: DocumentNode,
        context: Any,
        variables: dict[str, Any] | None,
        name: str | None,
    ) -> AsyncIterable[Any] | ExecutionResult:
        """The source events of a subscription (what its root field's resolver returns), or
        the errors that kept it from starting.

        The executor built here is dropped once the resolver has returned: each event is
        executed by an executor of its own (`_responses`), so that an open subscription holds
        its context, its variables and its resolver's iterator, not an executor."""
        executor_class = self._execution.get("executor_class", ExecutorThrowingOnIncremental)
        executor = executor_class.build(
            self.schema,
            document,
            context_value=context,
            raw_variable_values=variables,
            operation_name=name,
        )
        if isinstance(executor, list):
            return ExecutionResult(None, executor)
        source = create_source_event_stream(executor)
        del executor
        return await source if inspect.isawaitable(source) else source

    def _plan(
        self, prepared: Prepared, document: DocumentNode, operation: OperationDefinitionNode
    ) -> ResponsePlan:
        name = operation.name.value if operation.name else None
        plan = prepared.plans.get(name)
        if plan is None:
            plan = prepared.plans[name] = plan_of(self.schema, document, operation)
        return plan

    async def _cost(
        self,
        prepared: Prepared,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> int:
        """The operation's cost: computed on the worker thread the first time (a document of
        5,000 tokens takes milliseconds), then kept with the document by the values of the
        variables it depends on."""
        name = operation.name.value if operation.name else None
        given = variables or {}
        depends_on = prepared.cost_inputs.get(name)
        if depends_on is not None:
            known = prepared.costs.get((name, _values(given, depends_on)))
            if known is not None:
                return known
        loop = asyncio.get_running_loop()
        cost, inputs = await loop.run_in_executor(
            self._threads, self.costs.cost_and_inputs, document, operation, given
        )
        if len(prepared.costs) >= COSTS_PER_DOCUMENT:
            prepared.costs.clear()
        prepared.cost_inputs[name] = inputs
        prepared.costs[(name, _values(given, inputs))] = cost
        return cost

    async def _charge(self, caller: Caller, client: str | None, cost: int) -> Charge | None:
        if self.budget is None:
            return None
        return await self.budget.charge(caller_key(caller, client), cost)


def _cache_control(plan: ResponsePlan, max_age: int) -> str | None:
    """``Cache-Control`` of a persisted query's clean answer: private unless every field it
    selects is read alike by every caller."""
    if max_age <= 0:
        return None
    return f"{'public' if plan.public else 'private'}, max-age={max_age}"


def _values(variables: Mapping[str, Any], names: tuple[str, ...]) -> str:
    return json.dumps([variables.get(name) for name in names], sort_keys=True, default=str)


def caller_key(caller: Caller, client: str | None) -> str:
    """Whose budget and slots a request uses: a known caller's name; an anonymous caller's
    address."""
    return f"{caller.name}@{client or 'unknown'}" if caller.anonymous else caller.name


async def _responses(
    source: AsyncIterable[Any],
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    context: Any,
    variables: dict[str, Any] | None,
    execution: dict[str, Any],
) -> AsyncIterator[ExecutionResult]:
    """A subscription's results: for each event of ``source``, its operation executed with the
    event as root value (the root field resolves to the event), as graphql-core does for each
    event, by an executor made for the event and dropped with it. A failure of ``source``
    (graphql-core lets a subscription resolver's exception out of the iteration) ends the
    stream with one last result carrying the error; a bug is logged and shown as "Internal
    server error" only."""
    name = operation.name.value if operation.name else None
    try:
        async for event in source:
            result = execute(schema, document, event, context, variables, name, **execution)
            yield await result if inspect.isawaitable(result) else result
    except GraphQLError as error:
        # At the root field's path, as an error of that field: ``data`` is null.
        located = GraphQLError(
            error.message,
            path=[_root_field(operation)],
            extensions=error.extensions,
            original_error=error,
        )
        yield ExecutionResult(None, [located])
    except Exception as exc:
        logger.error("subscription %s failed", _root_field(operation), exc_info=exc)
        bug = GraphQLError(
            "Internal server error",
            path=[_root_field(operation)],
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )
        yield ExecutionResult(None, [bug])
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


def _root_field(operation: OperationDefinitionNode) -> str:
    """The response key of a subscription's one root field."""
    first = operation.selection_set.selections[0] if operation.selection_set.selections else None
    return (first.alias or first.name).value if isinstance(first, FieldNode) else "?"


class _NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, with the code Accord gives refusals of the schema itself, and
    federation's ``_service { sdl }`` refused too: it is the whole schema as text."""

    def enter_field(self, node: FieldNode, *args: Any) -> None:
        if node.name.value == "_service" and self.context.get_parent_type() is (
            self.context.schema.query_type
        ):
            self.report_error(
                GraphQLError(
                    "GraphQL introspection has been disabled, but the requested query "
                    "contained the field '_service'.",
                    node,
                )
            )
            return
        super().enter_field(node, *args)

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {"code": "INTROSPECTION_DISABLED"}
        super().report_error(error)


def select_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


def _add_context_extensions(result: ExecutionResult, context: Any) -> None:
    """Merge what the request's context reports into the response's ``extensions``: a context
    with ``response_extensions()`` (e.g. `AccordContext`, naming values served stale) adds its
    entries."""
    report = getattr(context, "response_extensions", None)
    extra = report() if callable(report) else None
    if extra:
        result.extensions = {**(result.extensions or {}), **extra}
