"""Wire-compatible emulators of the systems Accord fronts.

`sandbox.salesforce` speaks Salesforce REST v59.0 (SOAP and OAuth login, SOQL, sObjects);
`sandbox.netsuite` speaks NetSuite REST web services (record API v1, SuiteQL, OAuth 2.0).
Both are seeded from one deterministic `sandbox.world.World`, carry a control API under
``/__sandbox__/`` (stats, reset, faults) and are the embedded default of ``python server.py``.

Only ``server.py`` (sandbox mode), tests and benchmarks import this package.
"""
