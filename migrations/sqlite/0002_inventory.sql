-- The last-known inventory of each site, per resource kind, so that a site that does not
-- answer is still shown (as stale) and a restarted console is not blind.
CREATE TABLE inventory (
    site      TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
    resource  TEXT NOT NULL,
    items     TEXT NOT NULL,
    as_of     TEXT NOT NULL,
    PRIMARY KEY (site, resource)
);
