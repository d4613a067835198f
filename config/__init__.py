"""Runtime settings: the ``ACCORD_*`` environment read, validated and typed.

A folder of its own because settings belong to no single layer: `server.py`, the composition
root, reads them once at start and hands each part its own configuration.
"""
