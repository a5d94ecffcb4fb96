-- Session 43 (upgrade audit): 0411's index usable even after a failed concurrent build.
-- deploy/README has a large deployment build it first with CREATE INDEX CONCURRENTLY IF NOT
-- EXISTS. Such a build that fails (cancelled, a lock_timeout, a deadlock) leaves an INVALID
-- index of that name: 0411's IF NOT EXISTS then skipped it and was recorded as applied, and
-- the planner never used it (PostgreSQL keeps updating it on every write, for nothing).
-- Here an invalid one (pg_index.indisvalid false) is dropped and built again; a valid one,
-- or none, is left alone: no lock, nothing built.
--
-- Only in the invalid case, and knowingly: in this migration's transaction (every migration
-- has its own, dispatcher/record/migrate.py, where CONCURRENTLY is refused) DROP INDEX takes
-- an ACCESS EXCLUSIVE lock on `assignments` until the build ends, so reads and writes of it
-- (the record agent's accepts, the personal page) wait as long as the build takes. On a
-- large table rebuild it first, outside any transaction, and check indisvalid is true:
-- DROP INDEX CONCURRENTLY IF EXISTS assignments_helper_assigned;
-- CREATE INDEX CONCURRENTLY assignments_helper_assigned ON assignments (helper_id, assigned_at);
-- and this finds nothing to do.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_index
        WHERE indexrelid = to_regclass('assignments_helper_assigned') AND NOT indisvalid
    ) THEN
        DROP INDEX assignments_helper_assigned;
        CREATE INDEX assignments_helper_assigned ON assignments (helper_id, assigned_at);
    END IF;
END
$$;
