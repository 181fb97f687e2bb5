"""Operating the pipeline: the `payments` CLI, the local broker, topics, the local stack."""
