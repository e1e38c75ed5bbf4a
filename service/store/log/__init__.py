"""The event log: the append path and its one global order, idempotency keys, and reads of the
log (the feed, a stream, the head, the events of a period).
"""
