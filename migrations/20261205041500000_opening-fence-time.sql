-- Up Migration
-- Issue #21, opening a case in one workflow task: the first write's fence becomes the registry position and the
-- first task's workflow time (ms) in place of its day. A retry of the first task has a later time than the
-- attempt it replaces even on the same day and at the same registry position, and its write replaces the
-- earlier attempt's at any revision; a later write of the run clears both columns, and no first task's write
-- replaces it (activities/read-model.ts).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS opening_at bigint;
ALTER TABLE cases DROP COLUMN IF EXISTS opening_day;
