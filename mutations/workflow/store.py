"""Workflows kept as JSON records in the state backend, with indexes by status and kind."""

from __future__ import annotations

import datetime as dt

from mutations.workflow.model import Workflow, WorkflowKind, WorkflowStatus, now
from state.backend import StateBackend


class WorkflowStore:
    """Workflows as JSON records with indexes by status and kind, over a `StateBackend`."""

    def __init__(self, backend: StateBackend) -> None:
        self.backend = backend

    @staticmethod
    def _key(workflow_id: str) -> str:
        return f"workflow:{workflow_id}"

    async def get(self, workflow_id: str) -> Workflow | None:
        data = await self.backend.get(self._key(workflow_id))
        return Workflow.from_json(data) if data else None

    async def create(self, workflow: Workflow) -> bool:
        """Store a new workflow; False if one with that id exists."""
        created = await self.backend.set(
            self._key(workflow.id), workflow.to_json(), only_if_absent=True
        )
        if created:
            await self._index(workflow, None)
        return created

    async def save(self, workflow: Workflow) -> None:
        """Persist the next version; `ConcurrentUpdate` if another writer got there first."""
        previous_status = workflow.status
        stored = await self.backend.get(self._key(workflow.id))
        if stored is None or stored.get("version") != workflow.version:
            raise ConcurrentUpdate(workflow.id)
        previous_status = WorkflowStatus(stored["status"])
        workflow.version += 1
        workflow.updated_at = now()
        if not await self.backend.compare_and_set(
            self._key(workflow.id), stored, workflow.to_json()
        ):
            workflow.version -= 1
            raise ConcurrentUpdate(workflow.id)
        await self._index(workflow, previous_status)

    async def _index(self, workflow: Workflow, previous: WorkflowStatus | None) -> None:
        score = dt.datetime.fromisoformat(workflow.created_at).timestamp()
        if previous is not None and previous is not workflow.status:
            await self.backend.index_remove(f"workflows:status:{previous.value}", workflow.id)
        await self.backend.index_add(
            f"workflows:status:{workflow.status.value}", workflow.id, score
        )
        await self.backend.index_add(f"workflows:kind:{workflow.kind.value}", workflow.id, score)
        await self.backend.index_add("workflows:all", workflow.id, score)

    async def page(
        self,
        *,
        status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
        after: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> tuple[list[Workflow], bool]:
        """Newest first; filtered by status and kind."""
        index = (
            f"workflows:status:{status.value}"
            if status is not None
            else f"workflows:kind:{kind.value}"
            if kind is not None
            else "workflows:all"
        )
        found: list[Workflow] = []
        cursor = after
        while len(found) <= limit:
            entries = await self.backend.index_range(
                index, after=cursor, limit=limit + 1, reverse=True
            )
            if not entries:
                break
            loaded = await self.backend.get_many([self._key(member) for member, _ in entries])
            for data in loaded:
                if data is None:
                    continue
                workflow = Workflow.from_json(data)
                if (status is None or workflow.status is status) and (
                    kind is None or workflow.kind is kind
                ):
                    found.append(workflow)
            cursor = (entries[-1][1], entries[-1][0])
        return found[:limit], len(found) > limit

    async def dead_letter(self, workflow: Workflow) -> None:
        score = dt.datetime.now(dt.UTC).timestamp()
        await self.backend.index_add("workflows:dead-letters", workflow.id, score)

    async def dead_letter_count(self) -> int:
        """How many workflows are on the dead-letter list now."""
        return await self.backend.index_count("workflows:dead-letters")

    async def clear_dead_letter(self, workflow_id: str) -> None:
        await self.backend.index_remove("workflows:dead-letters", workflow_id)

    async def dead_letters(
        self, *, after: tuple[float, str] | None = None, limit: int = 50
    ) -> tuple[list[tuple[Workflow, float]], bool]:
        entries = await self.backend.index_range(
            "workflows:dead-letters", after=after, limit=limit + 1, reverse=True
        )
        loaded = await self.backend.get_many([self._key(member) for member, _ in entries])
        found = [
            (Workflow.from_json(data), score)
            for (_, score), data in zip(entries, loaded, strict=True)
            if data is not None
        ]
        return found[:limit], len(entries) > limit


class ConcurrentUpdate(Exception):
    """Another process changed the workflow since it was read."""
