"""Helper ledgers: reading them safely (xlsx, sandbox) and into profiles (ledger)."""
