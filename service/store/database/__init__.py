"""The database itself: engines, migrations, read-only snapshots, streaming replicas, and telling
an unreachable database apart from other errors.
"""
