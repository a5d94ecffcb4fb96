"""The Faust wiring: the worker that runs the pure core on Kafka (agents, timer, pages)."""
