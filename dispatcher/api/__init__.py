"""HTTP API: entrypoints that validate, translate into commands, and produce them to Kafka."""
