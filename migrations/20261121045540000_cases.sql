-- Up Migration
-- The read model of cases: the newest timeline of each case, written by the case workflow's activity
-- (idempotent on case_id, moving only forward in revision). The workflow is the source of truth.
-- No CPR number, name or citizen reference is stored here.
CREATE TABLE cases (
  case_id             text PRIMARY KEY,
  workflow_id         text NOT NULL,
  municipality        text NOT NULL,
  first_absence_day   date NOT NULL,
  status              text NOT NULL,
  category            smallint,
  conversation_mode   text NOT NULL,
  next_deadline       date,
  next_deadline_kind  text,
  overdue             boolean NOT NULL DEFAULT false,
  closed_on           date,
  revision            integer NOT NULL,
  timeline            jsonb NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_municipality_status_idx ON cases (municipality, status);
CREATE INDEX cases_next_deadline_idx ON cases (next_deadline) WHERE status <> 'closed';
