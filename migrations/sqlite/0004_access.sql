-- Site scopes of console users: a site selection as JSON ({"all": true},
-- {"selector": "region=eu"} or {"sites": [...]}).
ALTER TABLE users ADD COLUMN scope TEXT NOT NULL DEFAULT '{"all":true}';

-- API tokens for scripts: only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT,
    revoked_at    TEXT
);

-- Session tokens revoked before their expiry (logout, refresh), until they expire.
CREATE TABLE revoked_sessions (
    jti         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);

-- Who did what to which sites, with what outcome. The API offers no way to change or
-- delete an entry.
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT,
    sites    TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    status   BIGINT,
    detail   TEXT
);
CREATE INDEX audit_by_at ON audit (at);
CREATE INDEX audit_by_actor ON audit (actor);
