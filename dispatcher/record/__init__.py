"""PostgreSQL projection: migrations, the record agent's writes, read queries for reports."""
