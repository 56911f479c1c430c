/**
 * Schema version 1 of the PostgreSQL ledger: the SQLite ledger's tables (../../sqlite/schema.ts),
 * with every row keyed by its job, since one schema holds the ledgers of many jobs. `job_id` (a
 * small integer from `jobs`) rather than the job's name keeps the primary keys narrow: `records`
 * and `succeeded_ranges` are the tables that grow.
 *
 * JSON (errors, histories, watermarks) is stored as text, exactly as written: nothing queries
 * inside it, and jsonb would reorder the keys that reports print.
 */
export const schemaV1 = (s: string): string => `
CREATE TABLE "${s}".jobs (
  job_id     serial PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE "${s}".meta (
  job_id int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  key    text NOT NULL,
  value  text NOT NULL,
  PRIMARY KEY (job_id, key)
);
CREATE TABLE "${s}".runs (
  job_id     int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  run_id     text NOT NULL,
  ordinal    bigserial,
  started_at text NOT NULL,
  ended_at   text,
  status     text NOT NULL,
  pid        int NOT NULL,
  host       text NOT NULL,
  options    text NOT NULL,
  summary    text,
  PRIMARY KEY (job_id, run_id)
);
CREATE INDEX runs_recent ON "${s}".runs (job_id, ordinal DESC);
CREATE TABLE "${s}".succeeded_ranges (
  job_id    int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  first_seq bigint NOT NULL,
  last_seq  bigint NOT NULL,
  run_id    text NOT NULL,
  PRIMARY KEY (job_id, first_seq)
);
CREATE TABLE "${s}".records (
  job_id      int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  seq         bigint NOT NULL,
  key         text NOT NULL,
  status      text NOT NULL,
  kind        text,
  attempts    int NOT NULL,
  error       text,
  fingerprint text,
  template    text,
  rule        text,
  history     text,
  blocked_by  text,
  run_id      text NOT NULL,
  line        bigint,
  byte_offset bigint,
  updated_at  text NOT NULL,
  PRIMARY KEY (job_id, seq)
);
CREATE INDEX records_key ON "${s}".records (job_id, key);
CREATE INDEX records_status ON "${s}".records (job_id, status, fingerprint);
CREATE TABLE "${s}".key_chunks (
  job_id int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  id     bigserial,
  chunk  bytea NOT NULL,
  PRIMARY KEY (job_id, id)
);
CREATE TABLE "${s}".lease (
  job_id      int PRIMARY KEY REFERENCES "${s}".jobs ON DELETE CASCADE,
  token       bigint NOT NULL DEFAULT 0,
  run_id      text,
  owner       text,
  pid         int,
  host        text,
  acquired_at bigint,
  renewed_at  bigint,
  expires_at  bigint
);
CREATE TABLE "${s}".crash_suspects (
  job_id        int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  seq           bigint NOT NULL,
  group_size    int,
  alone_crashes int NOT NULL,
  run_ids       text NOT NULL,
  PRIMARY KEY (job_id, seq)
);
CREATE TABLE "${s}".run_timeline (
  job_id int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  run_id text NOT NULL,
  id     bigserial,
  at     text NOT NULL,
  done   int NOT NULL,
  failed int NOT NULL,
  PRIMARY KEY (job_id, run_id, id)
);
`;
