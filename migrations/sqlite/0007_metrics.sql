-- Figures collected from the sites over time (issue 16).
-- Raw samples: one row per site and collection, every metric of that moment packed as
-- little-endian f32 in the order of api-types' METRICS (NaN: not measured). A round
-- that could not read a site writes a row in metric_gaps instead, never zeros.
CREATE TABLE metric_samples (
    site   TEXT NOT NULL,
    ts     BIGINT NOT NULL,
    vals   BLOB NOT NULL,
    PRIMARY KEY (site, ts)
);
CREATE INDEX metric_samples_ts ON metric_samples (ts);

CREATE TABLE metric_gaps (
    site    TEXT NOT NULL,
    ts      BIGINT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (site, ts)
);
CREATE INDEX metric_gaps_ts ON metric_gaps (ts);

-- Rollups: one row per tier, metric, site and chunk; `slots` holds the chunk's
-- averages (1 m tier: 60 per hour; 1 h tier: 24 per day) as little-endian f32, NaN
-- where the site had no sample.
CREATE TABLE metric_chunks (
    tier    SMALLINT NOT NULL,
    metric  TEXT NOT NULL,
    site    TEXT NOT NULL,
    start   BIGINT NOT NULL,
    slots   BLOB NOT NULL,
    PRIMARY KEY (tier, metric, start, site)
);
CREATE INDEX metric_chunks_site ON metric_chunks (site);

-- How far each rollup tier has been computed (unix seconds, exclusive).
CREATE TABLE metric_rollups (
    tier        SMALLINT PRIMARY KEY,
    done_until  BIGINT NOT NULL
);
