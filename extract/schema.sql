-- Raw landing tables: one per endpoint, append-only. `body` is the untouched response as jsonb;
-- where/when it came from sits beside it. A body equal (content_sha256, below) to the latest one
-- landed for the same key (endpoint, race_date, meeting_num, race_num) is not stored again, so
-- every row is a distinct snapshot. No index on the jsonb column (bulk COPY speed); a btree on the key serves
-- dedupe and dbt's incremental windows.
create schema if not exists raw;

create table if not exists raw.pmu_programme (
    raw_id bigint generated always as identity primary key,
    race_date date not null,
    meeting_num integer,            -- always null: a programme covers the whole day
    race_num integer,
    client smallint not null,
    url text not null,
    http_status smallint not null,
    fetched_at timestamptz not null,     -- our clock when the response arrived
    served_at timestamptz,               -- the response's HTTP Date: when the body was true
    body_sha256 char(64) not null,
    extractor_version text not null,
    body jsonb not null
);

create table if not exists raw.pmu_participants (like raw.pmu_programme including all);
create table if not exists raw.pmu_performances (like raw.pmu_programme including all);
create table if not exists raw.pmu_rapports (like raw.pmu_programme including all);

create index if not exists pmu_programme_key on raw.pmu_programme (race_date, meeting_num, race_num, raw_id);
create index if not exists pmu_participants_key on raw.pmu_participants (race_date, meeting_num, race_num, raw_id);
create index if not exists pmu_performances_key on raw.pmu_performances (race_date, meeting_num, race_num, raw_id);
create index if not exists pmu_rapports_key on raw.pmu_rapports (race_date, meeting_num, race_num, raw_id);

-- content_sha256: sha256 of the body with the server's volatile stamps blanked (`timestampPMU`, the
-- `cached` flags: they change on every call while the content does not); what "same body as the
-- latest" compares, so that re-fetching an unchanged day adds nothing, live API included.
-- body_sha256 stays the sha256 of the exact bytes. (Added after the first release: `if not exists`.)
alter table raw.pmu_programme add column if not exists content_sha256 char(64);
alter table raw.pmu_participants add column if not exists content_sha256 char(64);
alter table raw.pmu_performances add column if not exists content_sha256 char(64);
alter table raw.pmu_rapports add column if not exists content_sha256 char(64);

-- Bodies that could not be landed as jsonb (not JSON, truncated, \u0000 ...): kept byte for byte.
create table if not exists raw.rejected_bodies (
    rejected_id bigint generated always as identity primary key,
    endpoint text not null,
    race_date date not null,
    meeting_num integer,
    race_num integer,
    client smallint not null,
    url text not null,
    http_status smallint,
    fetched_at timestamptz not null,
    served_at timestamptz,
    reason text not null,
    body_sha256 char(64),
    body_bytes bytea
);

-- Every fetch's final outcome (after retries), bodies or not: what a summary counts and how a
-- rerun knows what happened. outcome: new | unchanged | not_published | rejected | failed.
create table if not exists raw.fetch_log (
    fetch_id bigint generated always as identity primary key,
    run_id uuid not null,
    endpoint text not null,
    race_date date not null,
    meeting_num integer,
    race_num integer,
    client smallint not null,
    url text not null,
    outcome text not null,
    http_status smallint,
    attempts smallint not null,
    reason text,
    fetched_at timestamptz not null,
    served_at timestamptz,
    body_sha256 char(64),
    body_bytes integer,
    extractor_version text not null
);

create index if not exists fetch_log_day on raw.fetch_log (race_date, client);

-- One row per full ingest of a day (all four endpoints). `is_final`: nothing about the day will
-- change any more, so a resumed backfill skips it (see extract/ingest.py: day_is_final).
create table if not exists raw.day_runs (
    day_run_id bigint generated always as identity primary key,
    run_id uuid not null,
    race_date date not null,
    client smallint not null,
    finished_at timestamptz not null,
    races integer not null,
    failed integer not null,
    is_complete boolean not null,
    is_final boolean not null,
    programme_served_at timestamptz,
    extractor_version text not null
);

create index if not exists day_runs_day on raw.day_runs (race_date, client);
