-- Up Migration
-- Issue #14: every report within 100 ms at 1,000,000 cases (2.8 million deadlines). Counting the deadlines
-- at each call cannot do that (1.6 s for the overdue total alone), so the counts the reports add up are kept
-- here, exact, and changed by triggers in the same transaction as the rows they count: every writer of the
-- read model (the workflows' activity, ops repair, a hand-written fix) keeps them right without knowing they
-- exist, and a rollback takes its counts with it. api/reports.ts reads them; what they cannot answer (the
-- lists of overdue and upcoming deadlines) reads the covering indexes at the end of this file.
--
-- Dates are counted at three grains: a day, the month and the year it falls in (grain 'd', 'm', 'y'; `day`
-- is the first day of the month or year). A period is answered by its whole years, then whole months, then
-- single days (api/reports.ts, periodSpans), so a report adds up thousands of rows, not millions.
--
-- The cost is on the write (README, Benchmarks, Reports at 1,000,000 cases, says how much).
-- A count that falls to zero keeps its row (n = 0); the reports ignore such rows.

-- Overdue: open deadlines of open cases, pending or missed, by due date.
CREATE TABLE report_open_deadlines (
  grain         text NOT NULL CHECK (grain IN ('d', 'm', 'y')),
  day           date NOT NULL,
  municipality  text NOT NULL,
  kind          text NOT NULL,
  status        text NOT NULL,
  n             bigint NOT NULL,
  PRIMARY KEY (grain, day, municipality, kind, status)
);

-- Timeliness: first conversations by the date the law set (original_due_date), with what timeliness asks
-- of each: whether a policy excluded it, its status, for a met one its days late (negative or unknown as -1,
-- 22 and more as 22: the buckets in api/reports.ts end at "22+"), for a pending one its due date (whether it
-- was missed depends on the report's asOf). Everything timeliness does not ask is left out of the key.
CREATE TABLE report_first_conversations (
  grain         text NOT NULL CHECK (grain IN ('d', 'm', 'y')),
  day           date NOT NULL,
  municipality  text NOT NULL,
  excluded      boolean NOT NULL,
  status        text NOT NULL,
  days_late     integer NOT NULL,
  due_date      date,
  n             bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (grain, day, municipality, excluded, status, days_late, due_date)
);

-- Conversation modes: conversations held, by the day they were held and how.
CREATE TABLE report_conversations (
  grain         text NOT NULL CHECK (grain IN ('d', 'm', 'y')),
  day           date NOT NULL,
  municipality  text NOT NULL,
  mode          text NOT NULL,
  n             bigint NOT NULL,
  PRIMARY KEY (grain, day, municipality, mode)
);

-- Policy impact: deadlines a policy touched, by how many days it moved them (null: no date). Kept per number
-- of days rather than as a sum so that the largest move stays exact when deadlines change or go.
CREATE TABLE report_policy_deadlines (
  policy_id     text NOT NULL,
  municipality  text NOT NULL,
  kind          text NOT NULL,
  status        text NOT NULL CHECK (status IN ('paused', 'waived', 'other')),
  moved_days    integer,
  n             bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (policy_id, municipality, kind, status, moved_days)
);

-- Policy impact: cases that applied a policy ('applied', the case row's municipality; none if the case has no
-- row) and cases with deadlines it touched ('deadlines', the municipalities of those deadlines). Counted by the
-- set of municipalities, so a report for some municipalities counts a case once however many of them it has.
CREATE TABLE report_policy_cases (
  policy_id       text NOT NULL,
  source          text NOT NULL CHECK (source IN ('applied', 'deadlines')),
  municipalities  text[] NOT NULL,
  n               bigint NOT NULL,
  PRIMARY KEY (policy_id, source, municipalities)
);

-- What report_policy_cases counts for each case and policy: a distinct count cannot be kept by adding and
-- subtracting rows, so each change recomputes its cases' entries and counts the difference.
CREATE TABLE report_case_policies (
  case_id                  text NOT NULL,
  policy_id                text NOT NULL,
  applied_in               text[],
  deadline_municipalities  text[],
  PRIMARY KEY (case_id, policy_id)
);

-- Every change of the counts takes this transaction-scoped lock first, so writers change counts one at a
-- time until they commit. Without it two writers could each hold a count row the other needs next (a
-- statement fires its insert, update and delete triggers one after another) and deadlock. 7_214_140_014 is
-- an arbitrary key of this purpose; node-pg-migrate's lock uses another.
CREATE FUNCTION report_counts_lock() RETURNS void LANGUAGE sql AS $$ SELECT pg_advisory_xact_lock(7214140014) $$;

-- Recomputes the policy entries of the given cases from case_policies, deadlines and cases, and counts the
-- difference to what was counted before. Level-triggered: running it twice changes nothing the second time.
CREATE FUNCTION report_policy_cases_refresh(case_ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(case_ids) = 0 THEN RETURN; END IF;
  PERFORM report_counts_lock();
  WITH touched AS (SELECT DISTINCT unnest(case_ids) AS case_id),
  links AS (
    SELECT cp.case_id, cp.policy_id, true AS applied, NULL::text AS municipality
    FROM case_policies cp JOIN touched t ON t.case_id = cp.case_id
    UNION ALL
    SELECT d.case_id, p.policy_id, false, d.municipality
    FROM deadlines d JOIN touched t ON t.case_id = d.case_id CROSS JOIN LATERAL unnest(d.policy_ids) AS p(policy_id)
    WHERE p.policy_id IS NOT NULL
  ),
  wanted AS (
    SELECT l.case_id, l.policy_id,
           CASE WHEN bool_or(l.applied) THEN coalesce((SELECT ARRAY[c.municipality] FROM cases c WHERE c.case_id = l.case_id), '{}') END AS applied_in,
           array_agg(DISTINCT l.municipality ORDER BY l.municipality) FILTER (WHERE NOT l.applied) AS deadline_municipalities
    FROM links l GROUP BY l.case_id, l.policy_id
  ),
  had AS (SELECT s.* FROM report_case_policies s JOIN touched t ON t.case_id = s.case_id),
  counted AS (
    SELECT policy_id, 'applied' AS source, applied_in AS municipalities, 1 AS sign FROM wanted WHERE applied_in IS NOT NULL
    UNION ALL SELECT policy_id, 'deadlines', deadline_municipalities, 1 FROM wanted WHERE deadline_municipalities IS NOT NULL
    UNION ALL SELECT policy_id, 'applied', applied_in, -1 FROM had WHERE applied_in IS NOT NULL
    UNION ALL SELECT policy_id, 'deadlines', deadline_municipalities, -1 FROM had WHERE deadline_municipalities IS NOT NULL
  ),
  counts AS (
    INSERT INTO report_policy_cases AS t (policy_id, source, municipalities, n)
    SELECT policy_id, source, municipalities, sum(sign) FROM counted GROUP BY 1, 2, 3 HAVING sum(sign) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (policy_id, source, municipalities) DO UPDATE SET n = t.n + EXCLUDED.n
  ),
  gone AS (
    DELETE FROM report_case_policies s USING had h
    WHERE s.case_id = h.case_id AND s.policy_id = h.policy_id
      AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.case_id = h.case_id AND w.policy_id = h.policy_id)
  )
  INSERT INTO report_case_policies AS s (case_id, policy_id, applied_in, deadline_municipalities)
  SELECT case_id, policy_id, applied_in, deadline_municipalities FROM wanted
  ON CONFLICT (case_id, policy_id) DO UPDATE SET applied_in = EXCLUDED.applied_in, deadline_municipalities = EXCLUDED.deadline_municipalities
  WHERE (s.applied_in, s.deadline_municipalities) IS DISTINCT FROM (EXCLUDED.applied_in, EXCLUDED.deadline_municipalities);
END $$;

-- Counts deadline rows in (added) and out (removed): each count moves by the difference, so an update is its
-- old row out and its new row in. The conditions are the reports' own (api/reports.ts) and must stay so.
CREATE FUNCTION report_deadlines_apply(added deadlines[], removed deadlines[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(added) = 0 AND cardinality(removed) = 0 THEN RETURN; END IF;
  PERFORM report_counts_lock();
  WITH changed AS (
    SELECT 1 AS sign, a.* FROM unnest(added) a
    UNION ALL
    SELECT -1, r.* FROM unnest(removed) r
  ),
  open_due AS (
    INSERT INTO report_open_deadlines AS t (grain, day, municipality, kind, status, n)
    SELECT g.grain, g.day, c.municipality, c.kind, c.status, sum(c.sign)
    FROM changed c CROSS JOIN LATERAL (VALUES ('d', c.due_date), ('m', date_trunc('month', c.due_date::timestamp)::date), ('y', date_trunc('year', c.due_date::timestamp)::date)) g(grain, day)
    WHERE c.case_open AND c.status IN ('pending', 'missed') AND c.due_date IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(c.sign) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (grain, day, municipality, kind, status) DO UPDATE SET n = t.n + EXCLUDED.n
  ),
  first_conversations AS (
    INSERT INTO report_first_conversations AS t (grain, day, municipality, excluded, status, days_late, due_date, n)
    SELECT g.grain, g.day, c.municipality, c.excluded, c.status, c.days_late, c.due_date, sum(c.sign)
    FROM (
      SELECT x.sign, x.original_due_date, x.municipality, e.excluded, x.status,
             CASE WHEN e.excluded OR x.status <> 'met' OR x.days_late IS NULL OR x.days_late < 0 THEN -1 ELSE least(x.days_late, 22) END AS days_late,
             CASE WHEN NOT e.excluded AND x.status = 'pending' THEN x.due_date END AS due_date
      FROM changed x CROSS JOIN LATERAL (SELECT (x.status IN ('paused', 'waived') OR cardinality(x.policy_ids) > 0) AS excluded) e
      WHERE x.kind = 'first-conversation'
    ) c CROSS JOIN LATERAL (VALUES ('d', c.original_due_date), ('m', date_trunc('month', c.original_due_date::timestamp)::date), ('y', date_trunc('year', c.original_due_date::timestamp)::date)) g(grain, day)
    GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(c.sign) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (grain, day, municipality, excluded, status, days_late, due_date) DO UPDATE SET n = t.n + EXCLUDED.n
  ),
  conversations AS (
    INSERT INTO report_conversations AS t (grain, day, municipality, mode, n)
    SELECT g.grain, g.day, c.municipality, coalesce(c.mode, 'unknown'), sum(c.sign)
    FROM changed c CROSS JOIN LATERAL (VALUES ('d', c.met_on), ('m', date_trunc('month', c.met_on::timestamp)::date), ('y', date_trunc('year', c.met_on::timestamp)::date)) g(grain, day)
    WHERE c.status = 'met' AND c.kind IN ('first-conversation', 'follow-up-conversation') AND c.met_on IS NOT NULL
    GROUP BY 1, 2, 3, 4 HAVING sum(c.sign) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (grain, day, municipality, mode) DO UPDATE SET n = t.n + EXCLUDED.n
  )
  INSERT INTO report_policy_deadlines AS t (policy_id, municipality, kind, status, moved_days, n)
  SELECT p.policy_id, c.municipality, c.kind, CASE WHEN c.status IN ('paused', 'waived') THEN c.status ELSE 'other' END,
         c.due_date - c.original_due_date, sum(c.sign)
  FROM changed c CROSS JOIN LATERAL (SELECT DISTINCT u AS policy_id FROM unnest(c.policy_ids) u WHERE u IS NOT NULL) p
  GROUP BY 1, 2, 3, 4, 5 HAVING sum(c.sign) <> 0 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (policy_id, municipality, kind, status, moved_days) DO UPDATE SET n = t.n + EXCLUDED.n;

  -- Which cases have deadlines of which policy, and where, changes only with a deadline's policies or
  -- municipality (or the deadline itself) coming or going: an update of its status or dates leaves it.
  PERFORM report_policy_cases_refresh(ARRAY(
    SELECT DISTINCT x.case_id FROM (
      (SELECT case_id, deadline_id, municipality, policy_ids FROM unnest(added) EXCEPT SELECT case_id, deadline_id, municipality, policy_ids FROM unnest(removed))
      UNION ALL
      (SELECT case_id, deadline_id, municipality, policy_ids FROM unnest(removed) EXCEPT SELECT case_id, deadline_id, municipality, policy_ids FROM unnest(added))
    ) x WHERE cardinality(x.policy_ids) > 0));
END $$;

-- Empties the counts and counts every row again: the backfill below, and after a TRUNCATE (which fires no
-- row changes). Case by case in slices, so no slice holds millions of rows in memory.
CREATE FUNCTION report_aggregates_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ids text[];
  last_id text := NULL;
BEGIN
  PERFORM report_counts_lock();
  TRUNCATE report_open_deadlines, report_first_conversations, report_conversations, report_policy_deadlines,
           report_policy_cases, report_case_policies;
  LOOP
    SELECT array_agg(case_id ORDER BY case_id) INTO ids
    FROM (SELECT case_id FROM cases WHERE last_id IS NULL OR case_id > last_id ORDER BY case_id LIMIT 20000) c;
    EXIT WHEN ids IS NULL;
    PERFORM report_deadlines_apply(ARRAY(SELECT d FROM deadlines d WHERE d.case_id = ANY(ids)), '{}');
    PERFORM report_policy_cases_refresh(ids);
    last_id := ids[cardinality(ids)];
  END LOOP;
  -- Policies recorded for a case that has no case row (case_policies has no foreign key).
  PERFORM report_policy_cases_refresh(ARRAY(
    SELECT DISTINCT cp.case_id FROM case_policies cp WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.case_id = cp.case_id)));
END $$;

CREATE FUNCTION report_deadlines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM report_deadlines_apply(ARRAY(SELECT n::deadlines FROM new_rows n), '{}');
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM report_deadlines_apply(ARRAY(SELECT n::deadlines FROM new_rows n), ARRAY(SELECT o::deadlines FROM old_rows o));
  ELSE
    PERFORM report_deadlines_apply('{}', ARRAY(SELECT o::deadlines FROM old_rows o));
  END IF;
  RETURN NULL;
END $$;

-- A case row decides the municipality a policy's 'applied' count is under: only its arrival, departure or a
-- change of municipality matters, and only for cases with policies. A new case row changes only entries
-- already counted without one (applied_in '{}'): policies recorded in the same statement are counted by
-- case_policies' own trigger, which sees the case row whichever of the two fires first.
CREATE FUNCTION report_cases_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM report_policy_cases_refresh(ARRAY(
      SELECT DISTINCT s.case_id FROM new_rows n JOIN report_case_policies s ON s.case_id = n.case_id WHERE s.applied_in = '{}'));
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM report_policy_cases_refresh(ARRAY(
      SELECT case_id FROM ((SELECT case_id, municipality FROM new_rows EXCEPT SELECT case_id, municipality FROM old_rows)
                           UNION (SELECT case_id, municipality FROM old_rows EXCEPT SELECT case_id, municipality FROM new_rows)) x));
  ELSE
    PERFORM report_policy_cases_refresh(ARRAY(SELECT DISTINCT s.case_id FROM old_rows o JOIN report_case_policies s ON s.case_id = o.case_id));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION report_case_policies_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM report_policy_cases_refresh(ARRAY(SELECT n.case_id FROM new_rows n));
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM report_policy_cases_refresh(ARRAY(SELECT n.case_id FROM new_rows n UNION SELECT o.case_id FROM old_rows o));
  ELSE
    PERFORM report_policy_cases_refresh(ARRAY(SELECT o.case_id FROM old_rows o));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION report_aggregates_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM report_aggregates_rebuild();
  RETURN NULL;
END $$;

-- Statement triggers with transition tables: one call per statement and event with all its rows, rather than
-- one per row. (Postgres allows transition tables only on single-event triggers, hence three of each.)
CREATE TRIGGER report_deadlines_inserted AFTER INSERT ON deadlines REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_deadlines_changed();
CREATE TRIGGER report_deadlines_updated AFTER UPDATE ON deadlines REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_deadlines_changed();
CREATE TRIGGER report_deadlines_deleted AFTER DELETE ON deadlines REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_deadlines_changed();
CREATE TRIGGER report_cases_inserted AFTER INSERT ON cases REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_cases_changed();
CREATE TRIGGER report_cases_updated AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_cases_changed();
CREATE TRIGGER report_cases_deleted AFTER DELETE ON cases REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_cases_changed();
CREATE TRIGGER report_case_policies_inserted AFTER INSERT ON case_policies REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_case_policies_changed();
CREATE TRIGGER report_case_policies_updated AFTER UPDATE ON case_policies REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_case_policies_changed();
CREATE TRIGGER report_case_policies_deleted AFTER DELETE ON case_policies REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION report_case_policies_changed();
CREATE TRIGGER report_deadlines_truncated AFTER TRUNCATE ON deadlines FOR EACH STATEMENT EXECUTE FUNCTION report_aggregates_truncated();
CREATE TRIGGER report_cases_truncated AFTER TRUNCATE ON cases FOR EACH STATEMENT EXECUTE FUNCTION report_aggregates_truncated();
CREATE TRIGGER report_case_policies_truncated AFTER TRUNCATE ON case_policies FOR EACH STATEMENT EXECUTE FUNCTION report_aggregates_truncated();

-- The rows already in the read model (an empty one: nothing to count).
SELECT report_aggregates_rebuild();

-- The lists of overdue and upcoming deadlines are rows, not counts: they read these covering indexes in the
-- lists' order, nationally (the first) or per municipality (the second), and stop at the limit without
-- touching the table. They replace the indexes the counted reports needed; nothing else read those.
DROP INDEX deadlines_open_due_idx;
DROP INDEX deadlines_kind_original_idx;
DROP INDEX deadlines_met_idx;
DROP INDEX deadlines_policy_ids_idx;
CREATE INDEX deadlines_open_list_idx ON deadlines (due_date, case_id, deadline_id) INCLUDE (municipality, kind, status, mode)
  WHERE case_open AND status IN ('pending', 'missed', 'paused');
CREATE INDEX deadlines_open_municipality_list_idx ON deadlines (municipality, due_date, case_id, deadline_id) INCLUDE (kind, status, mode)
  WHERE case_open AND status IN ('pending', 'missed', 'paused');
