"""Plumbing shared by every component: settings, Kafka clients, logging, metrics."""
