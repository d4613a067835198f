"""Accord's canonical GraphQL schema.

`schema.build.build_schema` assembles the roots; `domain.ownership` is the registry every
field's owner, cache class and sensitivity come from. ``schema/schema.graphql`` is the
committed SDL: a test fails when the code's schema and the file differ (regenerate with
``python -m schema --write``).
"""
