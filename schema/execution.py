"""The execution context of Accord's schema: a subscription's memory stays flat however long
it runs.

graphql-core (3.3) resolves each subscription event with a shallow copy of the subscription's
executor, and so shares one memo of collected sub-fields among all its events. The memo is
keyed by the identity of a list built anew for every event, so it never hits, and grows by
an entry per event for as long as the subscription lives: a Lightning page left open on an
account for a day holds every event's fields. Each event's executor gets a memo of its own
here, dropped with the event.

Accord's request pipeline (`api.pipeline`) does not keep a subscription's executor at all: it
builds one for each event. This class covers subscriptions run by strawberry's own
``Schema.subscribe``.
"""

from __future__ import annotations

from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

__all__ = ["ExecutionContext"]


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        if hasattr(executor, "_relevant_sub_fields"):
            executor._relevant_sub_fields = {}  # this event's own memo, not the subscription's
        return executor
