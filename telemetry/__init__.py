"""What Accord reports about itself: Prometheus metrics, OpenTelemetry traces and the context
every log line carries (request id, trace id).

It is its own folder because every layer records into it (sources count upstream calls,
the cache its hits, the bus its deliveries, the ways in their requests) and so it must sit
below all of them, like `domain/`: it imports nothing of Accord. The ways in (`api.telemetry`)
and the composition root decide what is exported and to whom.
"""
