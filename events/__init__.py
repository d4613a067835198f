"""Events: canonical finance events, the bus, webhook intake and pollers.

Changes in Salesforce and the ERP arrive as signed webhooks (or, for what webhooks miss, from
pollers with a durable watermark), are normalised into canonical events (`events.model`) and
published on the bus: in-process by default, Redis Streams with ``ACCORD_REDIS_URL``. Their
consumers are GraphQL subscriptions, cache invalidation, and propagation to the other system.
"""
