"""Wire contracts: versioned pydantic models. Imports nothing of ours."""
