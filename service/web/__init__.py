"""The manager's dashboard: server-rendered HTML at `/`, behind a session made from a read key."""
