-- Every series query reads one metric's chunks over a time range, and every rollup one
-- hour's chunks of each metric. In a rowid table those rows lie scattered among the other
-- metrics' (one page read per row); without a rowid the table is stored in its key's
-- order, so they are neighbours (decision 24). SQLite only: PostgreSQL keeps its heap.
CREATE TABLE metric_chunks_by_key (
    tier    SMALLINT NOT NULL,
    metric  TEXT NOT NULL,
    site    TEXT NOT NULL,
    start   BIGINT NOT NULL,
    slots   BLOB NOT NULL,
    PRIMARY KEY (tier, metric, start, site)
) WITHOUT ROWID;
INSERT INTO metric_chunks_by_key (tier, metric, site, start, slots)
    SELECT tier, metric, site, start, slots FROM metric_chunks;
DROP TABLE metric_chunks;
ALTER TABLE metric_chunks_by_key RENAME TO metric_chunks;
CREATE INDEX metric_chunks_site ON metric_chunks (site);
