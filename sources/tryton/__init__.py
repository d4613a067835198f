"""Tryton, an open-source ERP, reached over its HTTP JSON-RPC API.

`sources.tryton.rpc.TrytonRpc` is the wire layer: login and session, the user's context, model
calls with Tryton's value encoding (`sources.tryton.wire`) and its failures mapped into the
source error tree (`sources.tryton.errors`). Accord never imports Tryton (GPL-3.0): the server
is a separate process, reached only over HTTP.
"""
