-- Up Migration
-- One row per deadline of every case, as the case's newest timeline has it: what the reports read.
-- Written with the case row, in the same transaction, only when the snapshot is newer (case_revision).
CREATE TABLE deadlines (
  case_id            text NOT NULL REFERENCES cases (case_id),
  deadline_id        text NOT NULL,
  kind               text NOT NULL,
  municipality       text NOT NULL,
  due_date           date,
  original_due_date  date NOT NULL,
  status             text NOT NULL CHECK (status IN ('pending', 'met', 'missed', 'paused', 'waived')),
  met_on             date,
  days_late          integer,
  mode               text,
  policy_ids         text[] NOT NULL DEFAULT '{}',
  -- The case is open (not closed): overdue and upcoming read only these, without a join.
  case_open          boolean NOT NULL,
  case_revision      integer NOT NULL,
  PRIMARY KEY (case_id, deadline_id)
);
-- Overdue and upcoming: open deadlines of open cases by due date.
CREATE INDEX deadlines_open_due_idx ON deadlines (due_date, municipality, kind) WHERE case_open AND status IN ('pending', 'missed', 'paused');
-- Timeliness: first conversations by the date the law set.
CREATE INDEX deadlines_kind_original_idx ON deadlines (kind, original_due_date, municipality);
-- Conversation modes: met conversations by the day they were held.
CREATE INDEX deadlines_met_idx ON deadlines (met_on, kind) WHERE status = 'met';
CREATE INDEX deadlines_policy_ids_idx ON deadlines USING gin (policy_ids);
CREATE INDEX cases_status_idx ON cases (status);
