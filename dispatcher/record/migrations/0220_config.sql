-- Configuration as data (issue 14.1): the projection of the compacted `config` topic,
-- written by the worker's config recorder only. Secrets never reach these tables: states
-- hold keyed fingerprints in their place (to tell a change), the audit says "changed".
CREATE TABLE config_entities (
    kind        text        NOT NULL,  -- community, bot, endpoint
    id          text        NOT NULL,
    communities text[]      NOT NULL DEFAULT '{}',
    state       jsonb,                 -- NULL: removed
    change_id   text        NOT NULL,
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, id)
);

-- One row per change that changed something: who, when, what (field by field).
CREATE TABLE config_audit (
    change_id   text        PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    kind        text        NOT NULL,
    id          text        NOT NULL,
    communities text[]      NOT NULL DEFAULT '{}',
    removed     boolean     NOT NULL DEFAULT false,
    changes     jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX config_audit_at ON config_audit (at);
CREATE INDEX config_audit_communities ON config_audit USING gin (communities);
