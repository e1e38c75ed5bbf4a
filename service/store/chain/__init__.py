"""The tamper-evident hash chain over the events table: its canonical form, stored rows as links,
the walk that verifies it and the diagnosis of a break.
"""
