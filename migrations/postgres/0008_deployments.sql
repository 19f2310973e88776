-- Deployments (issue 17): a desired state the console keeps true across site failures.
-- `spec` is the request as JSON (count included); `scope` the sites its creator may use
-- (JSON list; NULL: every site); `placed` the servers it booted, as JSON site → names.
CREATE TABLE deployments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    spec        TEXT NOT NULL,
    scope       TEXT,
    state       TEXT NOT NULL,
    placed      TEXT NOT NULL,
    scale_down  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- What the reconciler did and saw, the newest kept (a bounded number per deployment).
CREATE TABLE deployment_events (
    deployment_id  TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    at             TEXT NOT NULL,
    message        TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);
