"""Who may call: bearer keys and scopes, routes that check the key before the body, the per-key
rate limit, failed sign-ins, and access to the live feed from a browser.
"""
