"""The email job queue: Redis Streams with a consumer group, and the ``ocs worker`` consumer."""
