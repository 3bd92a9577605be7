-- The store's tables outside dbt: raw (with lineage), ref (configuration), ops.
-- Applied with `create ... if not exists` at the start of every run.
create schema if not exists raw;
create schema if not exists ref;
create schema if not exists ops;

-- response_key is unique by construction of the load (anti-join); no index, so a
-- national table of millions of rows costs no index memory.
create table if not exists raw.responses (
    response_key varchar not null,
    batch_id varchar not null,
    source_kind varchar not null,
    source_file varchar not null,
    source_sha256 varchar not null,
    source_row bigint not null,
    unit_code varchar not null,
    unit_name varchar not null,
    survey_year integer not null,
    layanan_code varchar not null,
    layanan_name varchar not null,
    layanan_raw varchar,
    submitted_at timestamp,
    respondent_age integer,
    respondent_age_group varchar,
    respondent_sex varchar,
    respondent_education varchar,
    respondent_occupation varchar,
    completion_pct double,
    q1 smallint,
    q2 smallint,
    q3 smallint,
    q4 smallint,
    q5 smallint,
    q6 smallint,
    q7 smallint,
    q8 smallint,
    q9 smallint,
    q10 smallint,
    q11 smallint,
    q12 smallint,
    q13 smallint,
    q14 smallint,
    ak1 smallint,
    ak2 smallint,
    ak3 smallint,
    ak4 smallint,
    ak5 smallint,
    saran varchar,
    loaded_at timestamp not null
);
-- stores made before ages answered as a group were read (SPEC §5's groups, sources/age.py)
alter table raw.responses add column if not exists respondent_age_group varchar;

-- Personal data (UU 27/2022): never selected by dbt, never exported.
create table if not exists raw.respondent_personal (
    response_key varchar not null,
    respondent_name varchar,
    respondent_phone varchar,
    loaded_at timestamp not null
);

-- ref.* is rewritten from the configuration at every run.
create table if not exists ref.questionnaire_items (
    item_code varchar primary key,
    block varchar not null,
    question_number integer not null,
    unsur_code varchar,
    unsur_name varchar,
    unsur_order integer,
    scale integer not null
);

create table if not exists ref.layanan (
    layanan_code varchar primary key,
    layanan_name varchar not null
);

create table if not exists ref.units (
    unit_code varchar primary key,
    unit_name varchar not null,
    unit_type varchar not null,
    province varchar
);

create table if not exists ref.survey_windows (
    survey_year integer primary key,
    window_start date not null,
    window_end date not null
);

create table if not exists ref.populations (
    survey_year integer not null,
    unit_code varchar not null,
    layanan_code varchar not null,
    populasi bigint not null
);

create table if not exists ref.rtl (
    survey_year integer not null,
    unit_code varchar not null,
    layanan_code varchar,
    unsur_code varchar not null,
    penyebab varchar,
    rencana_tindak_lanjut varchar,
    batas_waktu date,
    penanggung_jawab varchar,
    status varchar not null,
    realized_at date
);

create table if not exists ops.runs (
    run_id varchar primary key,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,
    exit_code integer,
    files_seen integer,
    files_loaded integer,
    files_rejected integer,
    rows_accepted bigint,
    rows_rejected bigint,
    message varchar
);

create table if not exists ops.load_batches (
    batch_id varchar primary key,
    run_id varchar not null,
    source_file varchar not null,
    source_path varchar,
    source_sha256 varchar not null,
    source_kind varchar not null,
    unit_code varchar,
    unit_name varchar,
    survey_year integer,
    rows_read bigint not null,
    rows_accepted bigint not null,
    rows_rejected bigint not null,
    rows_new bigint not null,
    status varchar not null,
    started_at timestamp not null,
    finished_at timestamp
);

create table if not exists ops.rejected_rows (
    batch_id varchar not null,
    run_id varchar not null,
    source_file varchar not null,
    source_row bigint not null,
    column_name varchar,
    value varchar,
    reason varchar not null,
    rejected_at timestamp not null
);

create table if not exists ops.rejected_files (
    run_id varchar not null,
    source_file varchar not null,
    source_path varchar,
    source_sha256 varchar,
    source_kind varchar,
    reason varchar not null,
    rejected_at timestamp not null
);

-- Incremental mart builds (skm_etl/transform/increments.py): the scopes
-- (survey_year, unit_code) the next dbt build recomputes, the time after which its
-- responses are new, and what the last complete build was made from.
create table if not exists ops.mart_build_scopes (
    survey_year integer not null,
    unit_code varchar not null
);

-- one row in an incremental build: responses loaded after it are the new ones
create table if not exists ops.mart_build_delta (
    loaded_after timestamp not null
);

create table if not exists ops.mart_build_state (
    fingerprint varchar not null,
    responses bigint not null,
    -- which batches those responses came from: sum of hash(batch_id) over the rows
    batches varchar not null,
    loaded_through timestamp,
    built_at timestamp not null
);
