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
--
-- A concurrent build still running is invalid too (from its start to its end). Dropping it
-- then would queue for ACCESS EXCLUSIVE (every read and write of `assignments` waiting
-- behind) while the build waits for this transaction: a deadlock, which PostgreSQL may end
-- by killing the operator's build. So a build in progress stops the migration (nothing done,
-- not recorded: the next start retries). Another role's build shows in
-- pg_stat_progress_create_index only by its pid (the other columns are NULL without
-- pg_read_all_stats): then a build holding a lock on `assignments` counts. And DROP waits at
-- most lock_timeout for a lock on `assignments`, so reads never queue long behind it.
DO $$
DECLARE
    idx regclass := to_regclass('assignments_helper_assigned');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = idx AND NOT indisvalid) THEN
        RETURN;
    END IF;
    IF EXISTS (
        SELECT 1 FROM pg_stat_progress_create_index p
        WHERE p.index_relid = idx
            OR (p.relid IS NULL AND EXISTS (
                SELECT 1 FROM pg_locks l
                WHERE l.pid = p.pid AND l.locktype = 'relation'
                    AND l.relation = 'assignments'::regclass AND l.granted))
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'object_in_use',
            MESSAGE = 'a build of assignments_helper_assigned is in progress:'
                ' wait for it to finish, then migrate again',
            HINT = 'SELECT pid, phase FROM pg_stat_progress_create_index shows it;'
                ' migration 0418 changed nothing';
    END IF;
    SET LOCAL lock_timeout = '5s';
    DROP INDEX assignments_helper_assigned;
    CREATE INDEX assignments_helper_assigned ON assignments (helper_id, assigned_at);
EXCEPTION WHEN lock_not_available THEN
    RAISE EXCEPTION USING ERRCODE = 'lock_not_available',
        MESSAGE = 'assignments_helper_assigned (invalid) not rebuilt: another transaction'
            ' held a lock on assignments for more than 5 s (lock_timeout):'
            ' migrate again when it has ended',
        HINT = 'migration 0418 changed nothing; pg_locks shows who holds assignments';
END
$$;
