-- Up Migration
-- Issue #21, opening a case in one workflow task. A case's first task writes its first row by local activity,
-- before the task completes; a retry of that task asks the registry again and may compute another timeline
-- at the same revision. The row records the registry position and the day its first write was computed from,
-- and a snapshot of the same run and revision replaces it only when computed from a later one, so the retry
-- wins over the attempt it replaced however their writes interleave (activities/read-model.ts).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS opening_position bigint;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS opening_day date;
