-- Up Migration
-- The policy registry: every published revision of every policy change, as operations sent it.
-- Lifting is a later revision with effective_to set; earlier revisions stay as history.
CREATE TABLE policy_revisions (
  policy_id        text NOT NULL,
  revision         integer NOT NULL CHECK (revision >= 1),
  title            text NOT NULL,
  legal_reference  text,
  effective_from   date NOT NULL,
  effective_to     date,
  scope            jsonb NOT NULL,
  effects          jsonb NOT NULL,
  published_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (policy_id, revision),
  CHECK (effective_to IS NULL OR effective_to >= effective_from)
);

-- One row per fan-out run (a publication, or a re-send by operations), kept current by the fan-out workflow.
CREATE TABLE policy_fanouts (
  workflow_id   text PRIMARY KEY,
  policy_id     text NOT NULL,
  revision      integer NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('publish', 'resend')),
  status        text NOT NULL CHECK (status IN ('running', 'completed')),
  matched       integer NOT NULL DEFAULT 0,
  signalled     integer NOT NULL DEFAULT 0,
  failed        integer NOT NULL DEFAULT 0,
  late_starters integer NOT NULL DEFAULT 0,
  started_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (policy_id, revision) REFERENCES policy_revisions (policy_id, revision)
);
CREATE INDEX policy_fanouts_policy_idx ON policy_fanouts (policy_id, revision);

-- Which case applied which policy revision: written by the case's read-model activity, once per pair.
CREATE TABLE case_policies (
  case_id     text NOT NULL,
  policy_id   text NOT NULL,
  revision    integer NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (case_id, policy_id, revision)
);
CREATE INDEX case_policies_policy_idx ON case_policies (policy_id, revision);
