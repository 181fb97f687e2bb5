"""Contracts shared by every component: provider payloads, routing, the payment-events record."""
