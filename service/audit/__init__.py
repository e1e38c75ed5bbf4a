"""Audit: replaying a period from the raw events, exporting it, and checking the hash chain."""
