import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { type SearchAttributePair } from '@temporalio/common';
import { type CaseSnapshot, writeCaseSnapshots } from '../../activities/read-model';
import { addDays, copenhagenDate, endOfCopenhagenDay } from '../../workflows/domain/dates';
import { timelineFingerprint } from '../../workflows/domain/fingerprint';
import { MUNICIPALITIES } from '../../workflows/domain/municipalities';
import { ruleSetFor } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts, type Employment, type PolicyRevision, type Timeline } from '../../workflows/domain/types';
import { caseWorkflowId, type CaseWorkflowInput, policyKey } from '../../workflows/messages';
import { CASE_RUNS_QUERY } from '../../workflows/policy-queries';
import {
  CaseFingerprintKey,
  CaseIdKey,
  CaseRevisionKey,
  CaseStatusKey,
  CategoryKey,
  ConversationModeKey,
  MunicipalityKey,
  NextDeadlineKey,
  NextDeadlineKindKey,
  OverdueKey,
  PolicyIdsKey,
  PolicyRevisionsKey,
} from '../../workflows/search-attributes';
import { type BenchStack, say, sleep } from '../support';

/*
 * bench:verify's cohort (bench/verify.ts): N cases with the events a case system reports and the policies in
 * their scope, each started on a task queue no worker polls with the search attributes its first task would
 * publish, and its read-model row written by the worker's own writeCaseSnapshots.
 */

/** Rows written per statement, as the worker's group commit writes them at most. */
const WRITE_BATCH = 500;
const TODAY = copenhagenDate(Date.now());
const CODES = Object.keys(MUNICIPALITIES);

/** A national pause of follow-up conversations that has ended, held by every case. */
export const NATIONAL: PolicyRevision = {
  policyId: 'bench-verify-national',
  revision: 1,
  title: 'Benchmark: follow-up conversations paused',
  effectiveFrom: addDays(TODAY, -150),
  effectiveTo: addDays(TODAY, -120),
  scope: { type: 'all' },
  effects: [{ type: 'pauseDeadlines', kinds: ['follow-up-conversation'] }],
};
/** Video conversations in one region since a month ago, held by that region's cases (revision 2 of 2). */
export const REGIONAL: PolicyRevision[] = [1, 2].map((revision) => ({
  policyId: 'bench-verify-regional',
  revision,
  title: 'Benchmark: conversations by video',
  effectiveFrom: addDays(TODAY, -30),
  scope: { type: 'regions', regions: ['Hovedstaden'] },
  effects: [{ type: 'switchConversationMode', mode: 'video' as const, consentRequired: revision === 2 }],
}));
const REGIONAL_CODES = new Set(CODES.filter((c) => MUNICIPALITIES[c]!.region === 'Hovedstaden'));

/** A deterministic pseudo-random sequence per case, so every run builds the same cohort. */
function random(seed: number) {
  let x = (seed * 2_654_435_761) % 2_147_483_648;
  return () => ((x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
}

interface BuiltCase {
  caseId: string;
  input: CaseWorkflowInput;
  revision: number;
  timeline: Timeline;
}

/**
 * Case i: first absent up to 330 days ago, with what a case system reports of such a case (information form,
 * category, one or two conversations, a certificate), the national policy, and the regional one in its region.
 * Its change counter is what the workflow would count: its start, each event and each policy revision applied.
 */
function buildCase(i: number): BuiltCase {
  const rnd = random(i + 1);
  const caseId = `BV-${i}`;
  const F = addDays(TODAY, -Math.floor(rnd() * 330));
  const r = rnd();
  const employment: Employment = r < 0.9 ? 'employee' : r < 0.97 ? 'unemployed' : 'self-employed';
  const facts: CaseFacts = { caseId, citizenRef: `REF-${i}`, municipality: CODES[i % CODES.length]!, firstAbsenceDay: F, employment };
  const events: CaseEvent[] = [];
  if (rnd() < 0.8) events.push({ eventId: 'form', type: 'information-form-received', occurredOn: addDays(F, 3 + Math.floor(rnd() * 20)) });
  events.push({ eventId: 'cat', type: 'categorized', occurredOn: addDays(F, 10 + Math.floor(rnd() * 10)), category: rnd() < 0.2 ? 3 : rnd() < 0.2 ? 1 : 2 });
  if (rnd() < 0.3) {
    events.push({ eventId: 'cert-req', type: 'certificate-requested', occurredOn: addDays(F, 20) });
    events.push({ eventId: 'cert', type: 'certificate-received', occurredOn: addDays(F, 28 + Math.floor(rnd() * 10)) });
  }
  const mode = () => (rnd() < 0.6 ? 'in-person' : rnd() < 0.7 ? 'phone' : 'video');
  if (rnd() < 0.85) events.push({ eventId: 'c1', type: 'conversation-held', occurredOn: addDays(F, 35 + Math.floor(rnd() * 40)), mode: mode() });
  if (rnd() < 0.5) events.push({ eventId: 'c2', type: 'conversation-held', occurredOn: addDays(F, 95 + Math.floor(rnd() * 30)), mode: mode() });
  const happened = events.filter((e) => e.occurredOn <= TODAY);
  const policies = REGIONAL_CODES.has(facts.municipality) ? [NATIONAL, ...REGIONAL] : [NATIONAL];
  const ruleSet = ruleSetFor(F);
  const timeline = computeTimeline(facts, happened, policies, ruleSet, TODAY);
  const revision = 1 + happened.length + policies.length;
  return { caseId, input: { facts, ruleSetId: ruleSet.id, events: happened, policies, revision }, revision, timeline };
}

/** The search attributes the case's task would publish (workflows/case-workflow.ts, publish), unset ones left out. */
function searchAttributes(c: BuiltCase): SearchAttributePair[] {
  const t = c.timeline;
  const next = t.deadlines.find((d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null);
  const newest = new Map<string, number>();
  for (const p of t.policies) newest.set(p.policyId, Math.max(newest.get(p.policyId) ?? 0, p.revision));
  const policyIds = t.policies.filter((p) => p.state !== 'superseded').map((p) => p.policyId);
  const pairs: (SearchAttributePair | null)[] = [
    { key: CaseIdKey, value: c.caseId },
    { key: MunicipalityKey, value: t.municipality },
    { key: CaseStatusKey, value: t.status },
    t.category === null ? null : { key: CategoryKey, value: String(t.category) },
    next?.dueDate ? { key: NextDeadlineKey, value: new Date(endOfCopenhagenDay(next.dueDate)) } : null,
    next ? { key: NextDeadlineKindKey, value: next.kind } : null,
    { key: ConversationModeKey, value: t.conversationMode },
    { key: OverdueKey, value: t.deadlines.some((d) => d.status === 'missed') },
    policyIds.length > 0 ? { key: PolicyIdsKey, value: policyIds } : null,
    newest.size > 0 ? { key: PolicyRevisionsKey, value: [...newest].map(([policyId, revision]) => policyKey({ policyId, revision })).sort() } : null,
    { key: CaseRevisionKey, value: c.revision },
    { key: CaseFingerprintKey, value: timelineFingerprint(t) },
  ];
  return pairs.filter((p): p is SearchAttributePair => p !== null);
}

/** Starts the case's workflow on the unpolled queue; its run id. A start the server did not answer is tried again. */
async function startCase(client: Client, taskQueue: string, c: BuiltCase): Promise<string> {
  const workflowId = caseWorkflowId(c.caseId);
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await client.workflow.start('caseWorkflow', { workflowId, taskQueue, args: [c.input], typedSearchAttributes: searchAttributes(c) });
      return handle.firstExecutionRunId;
    } catch (err) {
      // The first attempt did land: the run is there.
      if (attempt > 1 && err instanceof WorkflowExecutionAlreadyStartedError) return (await client.workflow.getHandle(workflowId).describe()).runId;
      if (attempt >= 10) throw err;
      say(`  starting ${c.caseId} failed (${(err as Error).message}); trying again (attempt ${attempt + 1})`);
      await sleep(1_000 * attempt);
    }
  }
}

/** Case runs that verify lists (the same query). */
async function listedRuns(client: Client): Promise<number> {
  return Number((await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: CASE_RUNS_QUERY })).count);
}

/**
 * Builds the cohort of `cases`: each is computed, started and its row written (in batches of WRITE_BATCH, as the
 * worker writes them) with `concurrency` starts in flight. Returns the seconds until visibility lists them all.
 */
export async function buildPopulation(stack: BenchStack, cases: number, concurrency: number): Promise<number> {
  const began = Date.now();
  let next = 0;
  let started = 0;
  let written = 0;
  let pending: CaseSnapshot[] = [];
  let writes: Promise<void> = Promise.resolve();
  let queued = 0;
  const flush = () => {
    const batch = pending;
    pending = [];
    queued++;
    writes = writes.then(async () => {
      await writeCaseSnapshots(stack.db, batch);
      written += batch.length;
      queued--;
    });
  };
  const progress = setInterval(() => {
    const s = (Date.now() - began) / 1000;
    say(`  ${s.toFixed(0)} s: ${started} started (${(started / s).toFixed(0)} a second), ${written} rows written`);
  }, 15_000);
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < cases) {
          const c = buildCase(next++);
          const runId = await startCase(stack.client, stack.taskQueue, c);
          started++;
          pending.push({ workflowId: caseWorkflowId(c.caseId), runId, revision: c.revision, timeline: c.timeline });
          if (pending.length >= WRITE_BATCH) flush();
          // The writes keep up with the starts; if they do not, the starts wait rather than hold every snapshot.
          while (queued > 4) await writes;
        }
      }),
    );
    if (pending.length > 0) flush();
    await writes;
    say(`  ${cases} started and their rows written after ${((Date.now() - began) / 1000).toFixed(1)} s; waiting for visibility ...`);
    while ((await listedRuns(stack.client)) < cases) await sleep(1_000);
  } finally {
    clearInterval(progress);
  }
  return (Date.now() - began) / 1000;
}
