import { type CaseSnapshot, writeCaseSnapshots } from '../activities/read-model';
import { addDays } from '../workflows/domain/dates';
import { MUNICIPALITIES } from '../workflows/domain/municipalities';
import { ruleSetFor } from '../workflows/domain/rules';
import { computeTimeline } from '../workflows/domain/timeline';
import { type CaseEvent, type PolicyRevision } from '../workflows/domain/types';
import { abort, benchOptions, percentile, say, sleep, startBenchStack } from './support';

/**
 * npm run bench:reports -- --cases 100000 [--runs 100]
 *
 * Seeds the read model with N cases (first absent over two years, with conversations held on time, late
 * or not at all, and the 2020 suspension), written by the same code the workflows use, then calls each
 * report over HTTP `runs` times with varying filters and prints p50 and p95 per report (target p95 <= 100 ms).
 * `--hold S` keeps the seeded Postgres S seconds after the figures and prints its URL, for EXPLAIN ANALYZE.
 */
const USAGE = `usage: npm run bench:reports -- [--cases 100000] [--runs 100]

  --cases N   cases seeded into the read model (default 100000)
  --runs N    calls of each report (default 100)
  --hold S    keep Postgres S seconds after the figures, printing its URL (default 0)`;
const options = benchOptions('bench:reports', USAGE, { cases: 100_000, runs: 100, hold: 0 });
const CASES = options.cases;
const RUNS = options.runs;
const ASOF = '2021-03-01';

const suspension: PolicyRevision = {
  policyId: 'covid-suspension',
  revision: 2,
  title: 'Delvis suspension af beskæftigelsesindsatsen',
  effectiveFrom: '2020-03-20',
  effectiveTo: '2020-05-26',
  scope: { type: 'all' },
  effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }],
};
const codes = Object.keys(MUNICIPALITIES);

/** A deterministic pseudo-random sequence, so every run seeds the same cohort. */
function random(seed: number) {
  let x = seed;
  return () => ((x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
}

async function main(): Promise<void> {
  const stack = await startBenchStack({ temporal: false });
  // The suspension in the registry, at the registry's next position (as policy-service publishes it).
  await stack.db.query(
    `INSERT INTO policy_revisions (policy_id, revision, title, effective_from, effective_to, scope, effects, position)
     VALUES ($1, 2, $2, $3, $4, $5, $6, (SELECT position + 1 FROM registry_position))`,
    [suspension.policyId, suspension.title, suspension.effectiveFrom, suspension.effectiveTo, JSON.stringify(suspension.scope), JSON.stringify(suspension.effects)],
  );
  await stack.db.query('UPDATE registry_position SET position = position + 1');
  const rnd = random(42);
  say(`Seeding ${CASES} cases into the read model ...`);
  const began = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < CASES) {
        const batch: CaseSnapshot[] = [];
        while (next < CASES && batch.length < 200) {
          const i = next++;
          const F = addDays('2019-06-01', Math.floor(rnd() * 600));
          const events: CaseEvent[] = [{ eventId: 'cat', type: 'categorized', occurredOn: addDays(F, 10), category: rnd() < 0.2 ? 3 : 2 }];
          const r = rnd();
          if (r < 0.85) events.push({ eventId: 'c1', type: 'conversation-held', occurredOn: addDays(F, 40 + Math.floor(rnd() * (r < 0.6 ? 15 : 60))), mode: rnd() < 0.7 ? 'in-person' : 'phone' });
          if (rnd() < 0.3) events.push({ eventId: 'end', type: 'recovered', occurredOn: addDays(F, 60 + Math.floor(rnd() * 200)) });
          const facts = { caseId: `RB-${i}`, citizenRef: `REF-${i}`, municipality: codes[i % codes.length]!, firstAbsenceDay: F, employment: 'employee' as const };
          const valid = events.filter((e) => e.occurredOn <= ASOF);
          batch.push({ workflowId: `sickness-case-RB-${i}`, revision: 1, timeline: computeTimeline(facts, valid, [suspension], ruleSetFor(F), ASOF) });
        }
        // In batches, as the worker writes them (writeCaseSnapshots in activities/read-model.ts).
        await writeCaseSnapshots(stack.db, batch);
      }
    }),
  );
  const [rows] = await stack.db.query<{ n: string }>('SELECT count(*) AS n FROM deadlines');
  await stack.db.query('ANALYZE');
  say(`  ${CASES} cases, ${rows!.n} deadlines in ${((Date.now() - began) / 1000).toFixed(0)} s`);

  const quarter = () => {
    const from = addDays('2019-09-01', Math.floor(rnd() * 450));
    return `from=${from}&to=${addDays(from, 90)}`;
  };
  const place = () => (rnd() < 0.5 ? `&municipality=${codes[Math.floor(rnd() * codes.length)]}` : '');
  const reports: [string, () => string][] = [
    ['overdue', () => `/api/v1/reports/overdue?asOf=${ASOF}${place()}${rnd() < 0.5 ? '&kind=first-conversation' : ''}`],
    ['upcoming', () => `/api/v1/reports/upcoming?asOf=${ASOF}&days=14${place()}`],
    ['timeliness', () => `/api/v1/reports/timeliness?${quarter()}&asOf=${ASOF}${place()}`],
    ['conversation-modes', () => `/api/v1/reports/conversation-modes?${quarter()}${place()}`],
    ['policy impact', () => `/api/v1/policy-changes/covid-suspension/impact`],
  ];
  say('');
  say(`report               p50 ms   p95 ms   (${RUNS} calls each over HTTP; target p95 <= 100 ms)`);
  for (const [name, url] of reports) {
    const latencies: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const res = await fetch(`${stack.api}${url()}`, { headers: { authorization: `Bearer ${stack.keys.reader}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${name}: ${res.status}`);
      latencies.push(performance.now() - t);
    }
    say(`${name.padEnd(20)} ${percentile(latencies, 50).toFixed(1).padStart(7)}  ${percentile(latencies, 95).toFixed(1).padStart(7)}`);
  }
  if (options.hold > 0) {
    say(`Holding Postgres for ${options.hold} s: ${stack.pgUrl}`);
    await sleep(options.hold * 1000);
  }
  await stack.stop();
}

main().catch(abort);
