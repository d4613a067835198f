"""Descriptions given once for the whole schema: arguments, and the types it generates.

An argument means the same wherever its name appears (``first`` and ``after`` page every
list; ``customerId`` names a customer in any of its id forms), so its description is written
once here, by name, with the few that mean something particular given by ``Type.field(arg)``.
The connection and edge types made for each list (``CustomerConnection``...) and the merged
``Query`` and ``Mutation`` roots and the arguments of the cost directives are described here
too. `describe` applies it all to the built schema.
"""

from __future__ import annotations

from graphql import GraphQLDirective, GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema

from resolvers.paging import DEFAULT_PAGE, MAX_PAGE

BY_NAME: dict[str, str] = {
    "first": f"How many to return, from 0 to {MAX_PAGE} ({DEFAULT_PAGE} when not given).",
    "after": "Continue after this cursor: the endCursor of the page before.",
    "id": "The canonical id.",
    "input": "What to do; see the input type.",
    "customerId": "Only events about this customer: its canonical id, "
    "cus:sf:<Salesforce id> or cus:erp:<ERP id>.",
    "status": "Only those in this status.",
    "filter": "Only those that match every condition given.",
    "kind": "Only workflows of this kind.",
    "workflowId": "Only the entries of this workflow (wf:<uuid>).",
    "recordId": "Only the entries about this record (its id in the system written).",
    "stage": "Only opportunities in this sales stage, e.g. Closed Won.",
    "salesforceId": "The Salesforce Account id (15 or 18 characters).",
    "erpId": "The ERP's internal id.",
    "system": "The system that owns the field.",
    "ttlSeconds": "How long Accord may serve a cached value of the field, in seconds.",
    "classification": "How sensitive the field's data is.",
}

BY_FIELD: dict[str, str] = {
    "Query.customer(id)": "The canonical id: cus:<key>, cus:sf:<Salesforce id> or "
    "cus:erp:<ERP id>.",
    "Query.order(id)": "The order's canonical id, ord:<ERP id>.",
    "Query.invoice(id)": "The invoice's canonical id, inv:<ERP id>.",
    "Query.payment(id)": "The payment's canonical id, pay:<ERP id>.",
    "Query.opportunity(id)": "The opportunity's canonical id (opp:<Salesforce id>) or its "
    "Salesforce id.",
    "Query.workflow(id)": "The workflow's id, wf:<uuid>.",
    "Subscription.workflowChanged(id)": "Only the events of this workflow (wf:<uuid>).",
}


BY_DIRECTIVE: dict[str, str] = {
    "@cost(weight)": "The weight, a number written as a string: what each occurrence adds to "
    "an operation's cost.",
    "@listSize(assumedSize)": "How many items the list holds when no slicing argument says.",
    "@listSize(slicingArguments)": "The arguments that bound the list's size (first).",
    "@listSize(sizedFields)": "The fields of the returned page that hold its items (edges, nodes).",
    "@listSize(requireOneSlicingArgument)": "Whether exactly one slicing argument must be "
    "given; false where a slicing argument has a default.",
}

QUERY = "Read Accord's canonical finance objects live from their owners, and its workflows."
MUTATION = (
    "Write through Accord: each change goes to the system that owns the field, after "
    "validation, once per idempotency key."
)


def describe(schema: GraphQLSchema) -> None:
    """Describe what has no description of its own: arguments, generated types, the root."""
    describe_arguments(schema)
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.description:
            continue
        if named.name.endswith("Connection"):
            node = named.name.removesuffix("Connection")
            named.description = f"A page of {node} nodes, with the cursors to ask for more."
        elif named.name.endswith("Edge"):
            named.description = f"One {named.name.removesuffix('Edge')} of a page, with its cursor."
    if schema.query_type is not None and not schema.query_type.description:
        schema.query_type.description = QUERY
    if schema.mutation_type is not None and not schema.mutation_type.description:
        schema.mutation_type.description = MUTATION


def describe_arguments(schema: GraphQLSchema) -> None:
    """Describe every argument that has no description of its own."""
    for named in schema.type_map.values():
        if named.name.startswith("__") or not isinstance(
            named, GraphQLObjectType | GraphQLInterfaceType
        ):
            continue
        for field_name, field in named.fields.items():
            for arg_name, argument in field.args.items():
                if not argument.description:
                    key = f"{named.name}.{field_name}({arg_name})"
                    argument.description = BY_FIELD.get(key) or BY_NAME.get(arg_name)
    for directive in schema.directives:
        describe_directive(directive)


def describe_directive(directive: GraphQLDirective) -> None:
    """Describe every argument of ``directive`` that has no description of its own."""
    for arg_name, argument in directive.args.items():
        if not argument.description:
            key = f"@{directive.name}({arg_name})"
            argument.description = BY_DIRECTIVE.get(key) or BY_NAME.get(arg_name)
