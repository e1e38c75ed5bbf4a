"""ASGI middleware around every request: the body limit, the deadline, the request observer (id,
access log, metrics), NUL refusal and Strict-Transport-Security.
"""
