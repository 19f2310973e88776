-- Console users. Roles: admin, operator, viewer.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- Registered sites. `credentials` is sealed with the console's secret key (AEAD), base64.
CREATE TABLE sites (
    name          TEXT PRIMARY KEY,
    auth_url      TEXT NOT NULL,
    region        TEXT,
    interface     TEXT NOT NULL,
    labels        TEXT NOT NULL,
    credentials   TEXT NOT NULL,
    insecure      BIGINT NOT NULL,
    ca_bundle     TEXT,
    state         TEXT NOT NULL,
    last_seen     TEXT,
    latency_ms    BIGINT,
    capabilities  TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
