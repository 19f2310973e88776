-- Facts about the console itself. `secret_key_check` holds a known value sealed with
-- the credentials key, so a start with another key fails at once, naming the cause,
-- instead of every site call failing later.
CREATE TABLE console_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
