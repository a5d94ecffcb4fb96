"""Wire contracts: versioned pydantic models. Imports nothing of ours.

Modules: `vocab` (shared enums), `places`, `helpers`, `requests`, `plans`, `commands`,
`events`, `records` (stored request / helper state).
"""
