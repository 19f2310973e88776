-- Bulk operations. A job is one request over many sites; each site's part is a task with
-- its own state, so that a restart resumes exactly where the console stopped.
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    -- The parameters as shown (secrets hidden), and all of them sealed with the
    -- console's secret key, as site credentials are.
    params          TEXT NOT NULL,
    sealed_params   TEXT NOT NULL,
    targets         TEXT NOT NULL,
    rollout         TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    finished_at     TEXT,
    stopped_reason  TEXT
);
CREATE INDEX jobs_by_created ON jobs (created_at);
CREATE INDEX jobs_by_state ON jobs (state);

-- No foreign key to sites: a site that leaves keeps its tasks' history (cancelled, with
-- the reason).
CREATE TABLE tasks (
    job_id           TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    site             TEXT NOT NULL,
    state            TEXT NOT NULL,
    canary           BIGINT NOT NULL,
    attempts         BIGINT NOT NULL,
    error            TEXT,
    result           TEXT,
    progress         BIGINT NOT NULL,
    plan             TEXT,
    next_attempt_at  TEXT,
    started_at       TEXT,
    finished_at      TEXT,
    PRIMARY KEY (job_id, site)
);
