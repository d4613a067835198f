"""The ``accord`` command: one entry point for everything Accord runs as a process.

A folder of its own because the command line sits above every other layer: it only parses
arguments and hands over to ``server.py``, the sandbox, the schema printer and the jobs that
operators run.
"""
