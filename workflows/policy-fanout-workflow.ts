import { continueAsNew, patched, proxyActivities, setCurrentDetails, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { MUNICIPALITIES } from './domain/municipalities';
import { type PolicyScope } from './domain/types';
import { CASE_WORKFLOW_TYPE, type FanoutProgress, fanoutProgressQuery, INHERITED_POLICIES_MAX_AGE_MS, type PolicyFanoutInput } from './messages';

const { signalPolicyPage, recordFanoutProgress } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '15 minutes',
  // A worker that dies mid-page is noticed within the heartbeat timeout; the retry resumes from the
  // last heartbeat (cases already signalled on that page are skipped, and a repeat would be a no-op).
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

const DEFAULT_PAGE_SIZE = 1_000;
const MAX_HISTORY_EVENTS = 2_000;
/**
 * A case started just before publication may not be visible yet when the main sweep lists cases, and did
 * not inherit the revision: the closing sweep signals the cases started since this long before the fan-out
 * began (visibility lags a start by well under that). Those also found by the main sweep ignore the repeat.
 */
const LATE_STARTER_MARGIN_MS = 60_000;
/**
 * The closing sweep lists cases no earlier than this after the fan-out began. By then the publication has
 * committed (the fan-out starts inside its transaction), every API's copy of the registry is younger than
 * the publication (INHERITED_POLICIES_MAX_AGE_MS), and visibility shows the cases started before that: a
 * case either inherited the revision or is found by the sweep.
 */
const LATE_STARTER_SWEEP_AFTER_MS = INHERITED_POLICIES_MAX_AGE_MS + 4_000;

/** The visibility query for the open cases a scope covers (search attributes set at case start). */
export function scopeQuery(scope: PolicyScope): string {
  const open = `WorkflowType = '${CASE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
  const codes =
    scope.type === 'all'
      ? null
      : scope.type === 'municipalities'
        ? scope.municipalities
        : Object.entries(MUNICIPALITIES)
            .filter(([, m]) => scope.regions.includes(m.region))
            .map(([code]) => code);
  return codes === null ? open : `${open} AND Municipality IN (${codes.map((c) => `'${c}'`).join(', ')})`;
}

/**
 * Sends one policy revision to every open case in its scope, page by page at a bounded rate, then sweeps
 * once more for cases started while it ran. Cases apply a policyId+revision once however often they
 * receive it, so a retry, a crash or a re-send never applies anything twice.
 */
export async function policyFanoutWorkflow(input: PolicyFanoutInput): Promise<FanoutProgress> {
  const { policy } = input;
  const progress: FanoutProgress = input.progress ?? { matched: 0, signalled: 0, failed: 0, lateStarters: 0, phase: 'sweep' };
  const startedAt = input.startedAt ?? new Date(Date.now()).toISOString();
  let pageToken = input.pageToken ?? null;
  setHandler(fanoutProgressQuery, () => progress);

  const report = async (status: 'running' | 'completed') => {
    setCurrentDetails(
      `**${policy.title}** (${policy.policyId} rev. ${policy.revision}, ${input.kind})\n\n` +
        `Fundet ${progress.matched} åbne sager · signaleret ${progress.signalled} · fejlet ${progress.failed} · startet undervejs ${progress.lateStarters} · fase ${progress.phase}`,
    );
    await recordFanoutProgress({
      workflowId: workflowInfo().workflowId,
      policyId: policy.policyId,
      revision: policy.revision,
      kind: input.kind,
      status,
      progress,
    });
  };

  await report('running');
  while (progress.phase !== 'done') {
    if (progress.phase === 'late-starters' && pageToken === null && patched('late-starter-sweep-after-delay')) {
      const wait = Date.parse(startedAt) + LATE_STARTER_SWEEP_AFTER_MS - Date.now();
      if (wait > 0) await sleep(wait, { summary: 'Venter på sager startet under udsendelsen' });
    }
    const since = new Date(Date.parse(startedAt) - LATE_STARTER_MARGIN_MS).toISOString();
    const query = progress.phase === 'sweep' ? scopeQuery(policy.scope) : `${scopeQuery(policy.scope)} AND StartTime >= '${since}'`;
    const page = await signalPolicyPage({
      policy,
      query,
      pageToken,
      pageSize: input.pageSize ?? DEFAULT_PAGE_SIZE,
      signalsPerSecond: input.signalsPerSecond,
    });
    if (progress.phase === 'sweep') progress.matched += page.matched;
    else progress.lateStarters += page.matched;
    progress.signalled += page.signalled;
    progress.failed += page.failed;
    pageToken = page.nextPageToken;
    if (!pageToken) progress.phase = progress.phase === 'sweep' ? 'late-starters' : 'done';
    await report(progress.phase === 'done' ? 'completed' : 'running');
    if (progress.phase !== 'done' && (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS)) {
      await continueAsNew<typeof policyFanoutWorkflow>({ ...input, startedAt, pageToken, progress });
    }
  }
  return progress;
}
