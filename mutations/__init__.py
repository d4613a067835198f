"""The write path: one mutation per file, validation policies, persisted workflows.

Every mutation routes each field to the system that owns it (`domain.ownership`), checks the
caller's role and the policies before anything reaches the ERP, is idempotent by its
`idempotencyKey`, and leaves an entry in the audit trail for every write. Multi-step work
(quote-to-cash) runs as a workflow (`mutations.workflow`) that completes or stops in a visible
exception state with nothing half-posted.
"""
