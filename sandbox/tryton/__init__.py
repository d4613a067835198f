"""A real Tryton server as the sandbox's ERP (``python -m sandbox --erp tryton``).

Tryton (GPL-3.0) is an optional extra (``pip install -e '.[tryton]'``) and is never imported:
the sandbox runs ``trytond-admin`` and ``trytond`` as child processes (`server`) and writes
the world into the database over JSON-RPC only, with Accord's own client (`seed`). Prepared
databases are cached (`store`, `prepare`) so that a second start takes seconds, and each
sandbox runs on its own copy (`instance`). docs/erps.md describes it.
"""
