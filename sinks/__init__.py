"""Writes payment-events to the database with an exactly-once effect."""
