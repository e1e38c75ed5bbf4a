"""Stand-alone tools for auditors and operators (standard library only)."""
