//! The study schema both storages create, and its versioned migrations: a database at
//! version `v` (its `schema_version` table) gets `MIGRATIONS[v..]` applied in one transaction.

/// Schema migrations in order: applying `MIGRATIONS[v]` takes the schema from version `v` to
/// `v + 1`. Never edit a released entry; append a new one.
pub(super) const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2];

/// Version 2: the start time of a trial's worker process, so a reused process id is not taken
/// for the dead worker.
const SCHEMA_V2: &str = "ALTER TABLE trials ADD COLUMN worker_started BIGINT;";

/// The first schema. Plain SQL that PostgreSQL also accepts, except `INTEGER PRIMARY KEY`
/// (SQLite's row id), which PostgreSQL spells `BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`.
const SCHEMA_V1: &str = "
CREATE TABLE studies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    directions  TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE study_attrs (
    study_id    BIGINT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value_json  TEXT NOT NULL,
    PRIMARY KEY (study_id, key)
);
CREATE TABLE trials (
    id               INTEGER PRIMARY KEY,
    study_id         BIGINT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    number           BIGINT NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAIL')),
    params_json      TEXT NOT NULL,
    values_json      TEXT,
    constraints_json TEXT,
    fail_reason      TEXT,
    seed             BIGINT,
    started_at       DOUBLE PRECISION,
    finished_at      DOUBLE PRECISION,
    worker_host      TEXT,
    worker_pid       BIGINT,
    heartbeat_at     DOUBLE PRECISION,
    UNIQUE (study_id, number)
);
CREATE INDEX trials_by_state ON trials (study_id, state, number);
CREATE TABLE trial_intermediate (
    trial_id     BIGINT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    step         BIGINT NOT NULL,
    values_json  TEXT NOT NULL,
    PRIMARY KEY (trial_id, step)
);
CREATE TABLE trial_attrs (
    trial_id    BIGINT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value_json  TEXT NOT NULL,
    PRIMARY KEY (trial_id, key)
);
";

/// A migration as PostgreSQL takes it: SQLite's row ids (`INTEGER PRIMARY KEY`) become
/// identity columns; everything else is plain SQL both accept.
pub(super) fn for_postgres(sql: &str) -> String {
    sql.replace(
        "INTEGER PRIMARY KEY",
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    )
}
