"""PostgreSQL: migrations, the record agent's writes (projection.py), the read models over
the projection (read/), the API's own edge tables (edge/) and retention (retention.py)."""
