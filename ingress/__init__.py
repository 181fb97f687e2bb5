"""HTTP ingress: verifies provider webhooks and produces them to Kafka."""
