"""API keys and their scopes: issued once, shown once, stored as hashes."""
