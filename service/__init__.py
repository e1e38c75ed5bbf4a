"""Funnel Ledger: an event-sourced ledger of B2B sales actions."""

__version__ = "0.1.0"
