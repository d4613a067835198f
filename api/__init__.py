"""Accord's ways in: GraphQL over HTTP, WebSocket and server-sent events, the request
pipeline they share (identities, analysis, cost, budgets), and the health probes.

A folder of its own because it is neither schema nor resolvers: it turns requests into
GraphQL executions and answers, and `server.py` mounts it. It knows Starlette and the
GraphQL transports, and nothing of the vendors.
"""
