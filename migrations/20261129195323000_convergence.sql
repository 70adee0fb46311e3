-- Up Migration
-- Issue #11, convergence you can prove.
-- Every publication takes the next registry position, in the transaction that stores it (so positions have
-- no gaps and follow commit order under the policy lock). A case remembers the position of the registry copy
-- it inherited from and asks for anything published after it (workflows/case-workflow.ts).
CREATE TABLE registry_position (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  position   bigint NOT NULL
);
INSERT INTO registry_position (position) VALUES (0);

ALTER TABLE policy_revisions ADD COLUMN position bigint;
ALTER TABLE policy_revisions ADD COLUMN ended_for jsonb;
UPDATE policy_revisions p SET position = n.position
FROM (SELECT policy_id, revision, row_number() OVER (ORDER BY published_at, policy_id, revision) AS position FROM policy_revisions) n
WHERE n.policy_id = p.policy_id AND n.revision = p.revision;
UPDATE registry_position SET position = (SELECT count(*) FROM policy_revisions);
ALTER TABLE policy_revisions ALTER COLUMN position SET NOT NULL;
CREATE UNIQUE INDEX policy_revisions_position_idx ON policy_revisions (position);

-- A fan-out row is written 'pending' with its revision, before the fan-out starts; whoever notices a pending
-- row starts it (a retry of the publication, any API instance, ops repair), once: the workflow id is unique.
-- A fan-out of a revision that a newer one replaced stops as 'superseded'.
ALTER TABLE policy_fanouts DROP CONSTRAINT policy_fanouts_status_check;
ALTER TABLE policy_fanouts ADD CONSTRAINT policy_fanouts_status_check CHECK (status IN ('pending', 'running', 'completed', 'superseded'));
ALTER TABLE policy_fanouts ADD COLUMN passes integer NOT NULL DEFAULT 0;
-- Open cases in scope that lacked the revision at the fan-out's last count (null before the first).
ALTER TABLE policy_fanouts ADD COLUMN missing integer;
CREATE INDEX policy_fanouts_pending_idx ON policy_fanouts (started_at) WHERE status = 'pending';
