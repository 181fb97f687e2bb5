"""The streams worker: normalize provider events and apply them to per-payment state."""
