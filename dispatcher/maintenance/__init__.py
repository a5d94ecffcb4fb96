"""Operator commands that drive the running system from outside (they use both the API's
command sink and the worker's table codec, so they sit above both)."""
