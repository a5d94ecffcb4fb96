"""What-if simulator: the real dispatch core in simulated time, with a behaviour model for
residents and helpers, comparing policies on the same requests and the same answer draws.

Pure (no Kafka, no clock, no database) except `cli` (argument parsing, files),
`report` (matplotlib) and `history` (PostgreSQL, for `--from-db`).
"""
