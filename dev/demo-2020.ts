import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addDays } from '../workflows/domain/dates';
import { MUNICIPALITIES } from '../workflows/domain/municipalities';
import { type PolicyRevision } from '../workflows/domain/types';
import { API_OPTIONS, API_OPTIONS_USAGE, apiClient } from '../cli/api-client';
import { commandLine, numberOption } from '../cli/command-line';

/**
 * Loads a demo cohort of cases that were open in spring 2020 and publishes the 2020 policy history
 * (fixtures/policies-2020.json) onto it through the API, in the order it happened, so a caseworker can
 * open the cases in the Temporal UI and see how the suspension moved their deadlines.
 *
 *   npm run dev                 # in one terminal
 *   npm run demo:2020           # in another; --cases N (default 60); --api URL and --key as in api-client.ts
 *
 * Re-running is safe: the same cases and the same revisions again change nothing.
 */
interface Publication {
  publishedOn: string;
  policy: PolicyRevision;
}

const root = path.resolve(__dirname, '..', '..');
const USAGE = `usage: npm run demo:2020 -- [--cases N] [--api URL] [--key KEY]

  --cases N   cases in the cohort (default 60)
${API_OPTIONS_USAGE}`;
const { values } = commandLine('demo:2020', USAGE, { ...API_OPTIONS, cases: { type: 'string' } }, { positionals: false });
const cohortSize = numberOption('demo:2020', USAGE, 'cases', values.cases, 60);
// Two municipalities in each of the five regions: the reopening of 27 May 2020 differed by region.
const municipalities = ['101', '147', '265', '370', '461', '561', '751', '730', '851', '813'];

const api = apiClient(values, ['case-system', 'ops']);
/* eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's JSON, read loosely by a demo script */
const call = (method: string, p: string, body?: unknown) => api.call<any>(method, p, body, p.startsWith('/api/v1/policy-changes') ? 'ops' : 'case-system');

async function main(): Promise<void> {
  const { publications } = JSON.parse(readFileSync(path.join(root, 'fixtures', 'policies-2020.json'), 'utf8')) as { publications: Publication[] };

  process.stdout.write(`Opening ${cohortSize} cases first absent between October 2019 and May 2020 ...\n`);
  const cases: string[] = [];
  for (let i = 0; i < cohortSize; i++) {
    const firstAbsenceDay = addDays('2019-10-01', Math.floor((i * 240) / cohortSize));
    const caseId = `DEMO-2020-${String(i + 1).padStart(3, '0')}`;
    cases.push(caseId);
    await call('POST', '/api/v1/cases', {
      caseId,
      citizenRef: `DEMO-REF-${i + 1}`,
      municipality: municipalities[i % municipalities.length],
      firstAbsenceDay,
      employment: i % 3 === 0 ? 'unemployed' : 'employee',
    });
    // What the case system knew before the suspension: visitation, and the first conversation if it was due.
    const events = [
      { eventId: 'visitation', type: 'categorized', occurredOn: addDays(firstAbsenceDay, 10), category: i % 4 === 0 ? 3 : 2 },
      { eventId: 'first-conversation', type: 'conversation-held', occurredOn: addDays(firstAbsenceDay, 45), mode: 'in-person' },
    ].filter((e) => e.occurredOn < '2020-03-20');
    for (const e of events) await call('POST', `/api/v1/cases/${caseId}/events`, e);
  }

  process.stdout.write('Publishing the 2020 history:\n');
  for (const { publishedOn, policy } of publications) {
    const res = await call('POST', '/api/v1/policy-changes', policy);
    process.stdout.write(`  ${publishedOn}  ${policy.policyId} rev. ${policy.revision}  ${res.status === 201 ? 'published' : 'already published'}  ${policy.title}\n`);
    // Each revision reaches every case before the next one is published, as the history unfolded.
    for (let tries = 0; tries < 600; tries++) {
      const view = (await call('GET', `/api/v1/policy-changes/${policy.policyId}`)).body;
      if (view.revision === policy.revision && view.fanouts.every((f: { status: string }) => f.status === 'completed')) break;
      await sleep(200);
    }
  }

  process.stdout.write('\nWhat the suspension did to a few first conversations:\n');
  for (const caseId of cases.filter((_, i) => i % Math.max(1, Math.floor(cohortSize / 8)) === 0)) {
    const c = (await call('GET', `/api/v1/cases/${caseId}`)).body;
    const first = c.deadlines.find((d: { kind: string }) => d.kind === 'first-conversation');
    const where = `${MUNICIPALITIES[c.municipality]?.name} (${MUNICIPALITIES[c.municipality]?.region})`;
    const moved = first ? `${first.originalDueDate} -> ${first.dueDate ?? 'paused'} (${first.status})` : 'none';
    process.stdout.write(`  ${caseId}  ${where.padEnd(28)} first conversation ${moved}; review point ${c.originalReviewPoint} -> ${c.reviewPoint}\n    ${c.temporalUiUrl}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo:2020: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
