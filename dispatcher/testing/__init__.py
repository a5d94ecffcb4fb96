"""Real-parts test and bench harness: an isolated-namespace stack, a local push receiver and
synthetic districts. Used by tests and benches; the product's runtime never imports it."""
