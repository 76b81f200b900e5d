"""Schema of a divtui database (v3), as numbered migrations applied in one transaction.

draw_metrics and draw_outcomes have the logical keys (draw_id, metric|aggregator, embedder,
scorer) but no PRIMARY KEY constraint: an ART index made their bulk inserts 8x slower (5.6M rows:
16.2 s against 2.1 s, measured on the 2-core dev machine). The draw stage keeps them unique itself
by writing a draw's rows in the same transaction as the draw and skipping what exists.
Migration 2 adds prune_outcomes (the pruning study), keyless for the same reason.
Migration 3 adds draw_sets (per pool, k and seed: the pool size, how many distinct k-subsets it
has and whether the draws are all of them) and report_cache (the overview's report tables,
stored with a fingerprint of what they were computed from).
"""

from __future__ import annotations

SCHEMA_VERSION = 3

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE problems (
    problem_id  VARCHAR PRIMARY KEY,
    dataset     VARCHAR,
    question    VARCHAR NOT NULL,
    gold_answer VARCHAR,
    level       VARCHAR,
    subject     VARCHAR,
    meta        JSON
);
CREATE TABLE runs (
    run_id         VARCHAR PRIMARY KEY,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    source         VARCHAR NOT NULL,
    model          VARCHAR,
    config         JSON,
    host           VARCHAR,
    divtui_version VARCHAR
);
CREATE TABLE samples (
    sample_id      BIGINT PRIMARY KEY,
    run_id         VARCHAR NOT NULL,
    problem_id     VARCHAR NOT NULL,
    temperature    DOUBLE NOT NULL,
    idx            INTEGER NOT NULL,
    text           VARCHAR NOT NULL,
    n_tokens       INTEGER,
    sum_logprob    DOUBLE,
    mean_logprob   DOUBLE,
    finish_reason  VARCHAR,
    answer         VARCHAR,
    correct        BOOLEAN,
    answer_class   INTEGER,
    source_answer  VARCHAR,
    source_correct BOOLEAN
);
CREATE TABLE scores (
    sample_id BIGINT NOT NULL,
    scorer    VARCHAR NOT NULL,
    value     DOUBLE NOT NULL,
    PRIMARY KEY (sample_id, scorer)
);
CREATE TABLE embeddings (
    sample_id BIGINT NOT NULL,
    embedder  VARCHAR NOT NULL,
    vec       FLOAT[] NOT NULL,
    PRIMARY KEY (sample_id, embedder)
);
CREATE TABLE draws (
    draw_id     BIGINT PRIMARY KEY,
    run_id      VARCHAR NOT NULL,
    problem_id  VARCHAR NOT NULL,
    temperature DOUBLE NOT NULL,
    k           INTEGER NOT NULL,
    rep         INTEGER NOT NULL,
    seed        BIGINT NOT NULL,
    sample_ids  BIGINT[] NOT NULL
);
CREATE TABLE draw_metrics (
    draw_id  BIGINT NOT NULL,
    metric   VARCHAR NOT NULL,
    embedder VARCHAR NOT NULL DEFAULT '',
    scorer   VARCHAR NOT NULL DEFAULT '',
    value    DOUBLE
);
CREATE TABLE draw_outcomes (
    draw_id    BIGINT NOT NULL,
    aggregator VARCHAR NOT NULL,
    embedder   VARCHAR NOT NULL DEFAULT '',
    scorer     VARCHAR NOT NULL DEFAULT '',
    sample_id  BIGINT,
    answer     VARCHAR,
    correct    BOOLEAN
);
CREATE TABLE jobs (
    job_id     VARCHAR PRIMARY KEY,
    kind       VARCHAR NOT NULL,
    host       VARCHAR,
    status     VARCHAR NOT NULL,
    spec       JSON,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    log        VARCHAR
);
CREATE INDEX samples_pool ON samples (run_id, problem_id, temperature);
CREATE INDEX draws_pool ON draws (run_id, problem_id, temperature);
""",
    2: """
CREATE TABLE prune_outcomes (
    draw_id    BIGINT NOT NULL,
    metric     VARCHAR NOT NULL,
    m          INTEGER NOT NULL,
    weighted   BOOLEAN NOT NULL,
    selector   VARCHAR NOT NULL,
    aggregator VARCHAR NOT NULL,
    embedder   VARCHAR NOT NULL DEFAULT '',
    scorer     VARCHAR NOT NULL DEFAULT '',
    sample_id  BIGINT,
    answer     VARCHAR,
    correct    BOOLEAN
);
""",
    3: """
CREATE TABLE draw_sets (
    run_id      VARCHAR NOT NULL,
    problem_id  VARCHAR NOT NULL,
    temperature DOUBLE NOT NULL,
    k           INTEGER NOT NULL,
    seed        BIGINT NOT NULL,
    pool_size   INTEGER NOT NULL,
    n_subsets   BIGINT,
    n_draws     INTEGER NOT NULL,
    exhaustive  BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, problem_id, temperature, k, seed)
);
CREATE TABLE report_cache (
    key         VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    report      JSON NOT NULL
);
""",
}

TABLES = (
    "problems",
    "runs",
    "samples",
    "scores",
    "embeddings",
    "draws",
    "draw_metrics",
    "draw_outcomes",
    "jobs",
    "prune_outcomes",
    "draw_sets",
    "report_cache",
)
