"""Vendor webhook receivers: authenticate a delivery, map it to contract events or the inbox."""
