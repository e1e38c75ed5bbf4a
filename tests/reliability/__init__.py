"""Reliability under faults and load: crashes, database restarts, several processes, replicas."""
