"""The in-memory copy of the read models (numpy columns of one snapshot), the reads it answers,
and the choice between it and SQL.
"""
