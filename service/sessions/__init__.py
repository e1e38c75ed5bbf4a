"""Dashboard sessions that were signed out of, until their cookie expires."""
