-- Up Migration
-- Issue #22, verify that cannot be fooled. A row records the run that wrote it and the fingerprint of the
-- timeline it shows (workflows/domain/fingerprint.ts), so verify compares content with the case's
-- CaseFingerprint search attribute, and a new run after a reset (which restarts the change counter from the
-- reset point) is never mistaken for the old one at the same revision: a row moves forward in revision within
-- its run, and a snapshot of another run replaces it only once Temporal confirms that run is the case's
-- current one (activities/read-model.ts). Rows from before this have neither until their case writes again.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS run_id text;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS fingerprint text;

-- A fan-out whose workflow was terminated or failed while its row said pending or running: ops repair marks
-- it so, after signalling the cases it left, and verify stops reporting it (api/ops/read-model-check.ts).
ALTER TABLE policy_fanouts DROP CONSTRAINT policy_fanouts_status_check;
ALTER TABLE policy_fanouts ADD CONSTRAINT policy_fanouts_status_check
  CHECK (status IN ('pending', 'running', 'completed', 'superseded', 'abandoned'));

