import { continueAsNew, patched, proxyActivities, setCurrentDetails, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { ApplyPageResult, createActivities, MissingPageResult } from '../activities';
import { refuseUnencryptedStart } from './unencrypted';
import { type FanoutProgress, fanoutProgressQuery, type PolicyFanoutInput } from './messages';

const { applyMissingCases, signalMissingCases, countMissingCases, recordFanoutProgress } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '15 minutes',
  // A worker that dies mid-page is noticed within the heartbeat timeout. The retry lists the page again by
  // the predicate: cases that applied the revision meanwhile drop out, none is skipped by position.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

const DEFAULT_PAGE_SIZE = 1_000;
/**
 * Fan-outs begun before this signalled the cases, and each case wrote its own row by activity. From here on
 * the fan-out applies the revision by Update and writes the rows the Updates return (issue #21, design (a)).
 */
const FANOUT_BY_UPDATE = 'fanout-by-update';
const MAX_HISTORY_EVENTS = 2_000;
/**
 * How long visibility may take to show a case's start or its new search attributes. The dev server shows
 * them within milliseconds, a SQL-visibility cluster within about a second; the fan-out's final count comes
 * at least this long after its last signal and after it began.
 */
export const DEFAULT_VISIBILITY_LAG_MS = 3_000;
/** A count that has not fallen for this many waits means cases are not getting it: list and signal again. */
const STALLED_WAITS = 2;
/** The longest wait between counts while a stuck set is signalled again and again. */
const MAX_WAIT_MS = 60_000;

/**
 * Brings one policy revision to every open case in its scope, level-triggered: it asks visibility which open
 * cases in scope have not applied the revision (workflows/policy-queries.ts), applies it to them by Update
 * and writes the rows the Updates answer (older fan-outs: signals them), then applies it to the cases whose
 * read-model row lacks it, counts again
 * while they apply it, signals whatever is left once the count stops falling, and ends when a count taken at
 * least the visibility lag after its last signal finds none. A case started from an older copy of the
 * registry, a case that continued as new, a signal lost with a crashed worker: each is still in the set and
 * is found on the next pass, whatever the timing. Cases apply a policyId+revision once however often they
 * receive it. A newer revision of the same policy takes over: this fan-out then stops as superseded.
 */
export async function policyFanoutWorkflow(input: PolicyFanoutInput): Promise<FanoutProgress> {
  refuseUnencryptedStart(input);
  const { policy } = input;
  const progress: FanoutProgress = input.progress ?? { passes: 0, matched: 0, signalled: 0, failed: 0, lateStarters: 0, missing: null, phase: 'signalling' };
  const lagMs = input.visibilityLagMs ?? DEFAULT_VISIBILITY_LAG_MS;
  setHandler(fanoutProgressQuery, () => progress);

  const report = async (status: 'running' | 'completed' | 'superseded') => {
    setCurrentDetails(
      `**${policy.title}** (${policy.policyId} rev. ${policy.revision}, ${input.kind})\n\n` +
        `Gennemløb ${progress.passes} · fundet ${progress.matched} åbne sager · signaleret ${progress.signalled} · lukket undervejs ${progress.failed}` +
        ` · fundet senere ${progress.lateStarters} · mangler ${progress.missing ?? '?'} · fase ${progress.phase}`,
    );
    await recordFanoutProgress({ workflowId: workflowInfo().workflowId, policyId: policy.policyId, revision: policy.revision, kind: input.kind, status, progress });
  };
  const superseded = async () => {
    progress.phase = 'superseded';
    await report('superseded');
    return progress;
  };

  await report('running');
  let stalledPasses = 0;
  for (;;) {
    // One pass: every open case in scope that visibility shows without the revision, page by page.
    progress.phase = 'signalling';
    const firstPass = progress.passes === 0;
    progress.passes++;
    const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
    if (patched(FANOUT_BY_UPDATE)) {
      // By Update, writing the rows here: first the cases visibility shows without the revision, then those
      // whose row does not hold it (an Update whose caller died before writing its row, whatever the attempt).
      for (const source of ['visibility', 'read-model'] as const) {
        let from: string | null = null;
        do {
          const page: ApplyPageResult = await applyMissingCases({ policy, source, from, pageSize, signalsPerSecond: input.signalsPerSecond });
          if (page.superseded) return superseded();
          if (source === 'visibility') {
            if (firstPass) progress.matched += page.listed;
            else progress.lateStarters += page.listed;
          }
          progress.signalled += page.applied + page.had;
          progress.failed += page.failed;
          from = page.next;
        } while (from !== null);
      }
    } else {
      let pageToken: string | null = null;
      do {
        const page: MissingPageResult = await signalMissingCases({ policy, pageToken, pageSize, signalsPerSecond: input.signalsPerSecond });
        if (page.superseded) return superseded();
        if (firstPass) progress.matched += page.listed;
        else progress.lateStarters += page.listed;
        progress.signalled += page.signalled;
        progress.failed += page.failed;
        pageToken = page.nextPageToken;
      } while (pageToken !== null);
    }

    // Count while the signalled cases apply it; done when a count after the lag finds none.
    progress.phase = 'waiting';
    await report('running');
    const waitMs = Math.min(MAX_WAIT_MS, lagMs * 2 ** stalledPasses);
    let best = Number.POSITIVE_INFINITY;
    let stalled = 0;
    while (stalled < STALLED_WAITS) {
      await sleep(waitMs, { summary: 'Venter på at sagerne anvender revisionen' });
      const count = await countMissingCases({ policy });
      if (count.superseded) return superseded();
      progress.missing = count.missing;
      if (count.missing === 0) {
        progress.phase = 'done';
        await report('completed');
        return progress;
      }
      if (count.missing < best) {
        best = count.missing;
        stalled = 0;
      } else {
        stalled++;
      }
      await report('running');
    }
    stalledPasses++;
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
      await continueAsNew<typeof policyFanoutWorkflow>({ ...input, progress });
    }
  }
}
