"""Accord's HTTP surface: GraphQL over HTTP and the health probes.

A folder of its own because it is neither schema nor resolvers: it turns HTTP requests into
GraphQL executions and answers, and `server.py` mounts it. It knows Starlette and
GraphQL-over-HTTP, and nothing of the vendors.
"""
