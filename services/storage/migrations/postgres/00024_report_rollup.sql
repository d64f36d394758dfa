-- +goose Up
-- The reports' rollup (services/storage/reportrollup.go): the settled
-- figures of the cases opened in each UTC hour (by department and channel)
-- and in each UTC day (by department, with histograms of the durations),
-- so a report over a year reads about 1,500 day rows instead of a million
-- cases. A case's facts change long after it was opened (first reply,
-- resolution, reopening, transfer), so the refresher recomputes whole days:
-- those with a case updated since its watermark (cases_updated). Reports
-- read from cases directly the days not rolled up yet and the edges of
-- their range; for days whose open cases still have a deadline ahead they
-- count from cases only the outcomes not yet due.
CREATE TABLE report_hours (
    hour_start    TIMESTAMPTZ NOT NULL,
    department_id TEXT        NOT NULL,
    channel_kind  TEXT        NOT NULL,
    created       INTEGER     NOT NULL,
    -- settled: the first reply was sent (fr) / the case was resolved (res)
    fr_met        INTEGER     NOT NULL,
    fr_known      INTEGER     NOT NULL,
    -- pending: no reply (fr) / open and unresolved (res) with a deadline;
    -- they count as missed once the deadline is past
    fr_pending    INTEGER     NOT NULL,
    res_met       INTEGER     NOT NULL,
    res_known     INTEGER     NOT NULL,
    res_pending   INTEGER     NOT NULL,
    PRIMARY KEY (hour_start, department_id, channel_kind)
);
CREATE TABLE report_days (
    day_start     TIMESTAMPTZ NOT NULL,
    department_id TEXT        NOT NULL,
    created       INTEGER     NOT NULL,
    fr_met        INTEGER     NOT NULL,
    fr_known      INTEGER     NOT NULL,
    fr_pending    INTEGER     NOT NULL,
    res_met       INTEGER     NOT NULL,
    res_known     INTEGER     NOT NULL,
    res_pending   INTEGER     NOT NULL,
    resolved      INTEGER     NOT NULL,
    reopened      INTEGER     NOT NULL,
    -- the latest deadline of the pending cases (NULL: none): until then
    -- the day's compliance depends on the hour of the report
    pending_until TIMESTAMPTZ,
    -- log-spaced histograms of first_response_seconds / resolution_seconds
    fr_hist       BYTEA       NOT NULL,
    res_hist      BYTEA       NOT NULL,
    PRIMARY KEY (day_start, department_id)
);
-- One row: every case updated before watermark (less the refresher's
-- margin) is in the rollup. NULL: never built.
CREATE TABLE report_rollup_state (
    id        INTEGER PRIMARY KEY,
    watermark TIMESTAMPTZ
);
INSERT INTO report_rollup_state (id, watermark) VALUES (1, NULL);
-- The refresher and the reports find the days touched since the watermark.
CREATE INDEX cases_updated ON cases (updated_at);

-- +goose Down
DROP INDEX cases_updated;
DROP TABLE report_rollup_state;
DROP TABLE report_days;
DROP TABLE report_hours;
