"""Wire contracts: versioned pydantic models. Imports nothing of ours.

Modules: `vocab` (shared enums), `places`, `helpers`, `requests`, `plans`, `commands`,
`events`, `event_batch` (a decision's events in one Kafka record), `records` (stored
request / helper state).
"""
