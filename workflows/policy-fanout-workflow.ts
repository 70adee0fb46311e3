import { ApplicationFailure, continueAsNew, patched, proxyActivities, setCurrentDetails, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { ApplyPageResult, createActivities, MissingPageResult } from '../activities';
import { refuseUnencryptedStart } from './unencrypted';
import { FanoutErrorType, type FanoutProgress, fanoutProgressQuery, type FanoutResume, type PolicyFanoutInput } from './messages';

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
/**
 * Fan-outs begun before this continued as new only between passes, so one pass over many cases, or a long
 * run of counts, grew a single history without bound. From here on a run also hands over between two pages
 * and between two counts. Runs recorded before it replay without those hand-overs: their histories hold none.
 */
const FANOUT_BOUNDED_HISTORY = 'fanout-bounded-history';
/**
 * Fan-outs begun before this cut every wait between counts to MAX_WAIT_MS, a visibility lag above it
 * included, so their timers were shorter than the lag. From here on a wait is never shorter than the lag.
 */
const FANOUT_WAIT_AT_LEAST_LAG = 'fanout-wait-at-least-lag';
const DEFAULT_MAX_HISTORY_EVENTS = 2_000;
/**
 * Events a run may still add after it decides not to hand over: the most one step adds until the next
 * decision (a count: its timer 5, the count 6, the progress report 6, a patch marker with its search attribute
 * 2) and then handing over (4) or completing (a report and the end, 8), with room for a few failed workflow tasks.
 */
const HANDOVER_RESERVE = 40;
/** A smaller bound would leave a run no room for a step between its start (about 20 events) and the reserve. */
const MIN_HISTORY_EVENTS = 100;
/**
 * How long visibility may take to show a case's start or its new search attributes. The dev server shows
 * them within milliseconds, a SQL-visibility cluster within about a second; the fan-out's final count comes
 * at least this long after its last signal and after it began.
 */
export const DEFAULT_VISIBILITY_LAG_MS = 3_000;
/** A count that has not fallen for this many waits means cases are not getting it: list and signal again. */
const STALLED_WAITS = 2;
/** The back-off between counts while a stuck set is signalled again and again stops here (or at the lag, if longer). */
const MAX_WAIT_MS = 60_000;

/** An input the fan-out cannot run with fails it at once, not retried, naming the field. */
function refuseBadInput(input: PolicyFanoutInput): void {
  const problems = [
    input.maxHistoryEvents !== undefined && !(Number.isInteger(input.maxHistoryEvents) && input.maxHistoryEvents >= MIN_HISTORY_EVENTS)
      ? `maxHistoryEvents must be a whole number of at least ${MIN_HISTORY_EVENTS}, not ${input.maxHistoryEvents}`
      : null,
    input.pageSize !== undefined && !(Number.isInteger(input.pageSize) && input.pageSize >= 1) ? `pageSize must be a whole number of at least 1, not ${input.pageSize}` : null,
    input.visibilityLagMs !== undefined && !(Number.isFinite(input.visibilityLagMs) && input.visibilityLagMs >= 0)
      ? `visibilityLagMs must be a number of milliseconds, 0 or more, not ${input.visibilityLagMs}`
      : null,
  ].filter((p): p is string => p !== null);
  if (problems.length > 0) throw ApplicationFailure.create({ message: `refused: ${problems.join('; ')}`, type: FanoutErrorType.InvalidInput, nonRetryable: true });
}

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
 *
 * A run continues as new between two steps (pages or counts) before its history passes `maxHistoryEvents`,
 * handing over its progress and where it stood (`resume`): the next run takes the next step, so none is
 * taken twice or skipped, whatever the number of cases or counts.
 */
export async function policyFanoutWorkflow(input: PolicyFanoutInput): Promise<FanoutProgress> {
  refuseUnencryptedStart(input);
  refuseBadInput(input);
  const { policy } = input;
  const progress: FanoutProgress = input.progress ?? { passes: 0, matched: 0, signalled: 0, failed: 0, lateStarters: 0, missing: null, phase: 'signalling' };
  const lagMs = input.visibilityLagMs ?? DEFAULT_VISIBILITY_LAG_MS;
  const maxHistoryEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
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

  let stalledPasses = input.resume?.stalledPasses ?? 0;
  let resumeAt = input.resume?.at ?? null;
  /** Steps (pages, counts) this run has taken: a run takes at least one before it hands over, so it gets somewhere. */
  let steps = 0;
  /** Continues as new, resuming at `at`, when the next step could take the history past the bound. */
  const handOverIfFull = async (at: FanoutResume['at']) => {
    if (steps === 0) return;
    const { continueAsNewSuggested, historyLength } = workflowInfo();
    if (!continueAsNewSuggested && historyLength + HANDOVER_RESERVE <= maxHistoryEvents) return;
    // Asked only when full, so a run that never nears the bound records no marker; a run recorded before the
    // patch replays without the hand-over it never made.
    if (!patched(FANOUT_BOUNDED_HISTORY)) return;
    await continueAsNew<typeof policyFanoutWorkflow>({ ...input, progress, resume: { stalledPasses, at } });
  };

  await report('running');
  for (;;) {
    const resumed = resumeAt;
    resumeAt = null;
    if (resumed?.phase !== 'waiting') {
      // One pass: every open case in scope that visibility shows without the revision, page by page (a run
      // that continued as new mid-pass goes on with the same pass, where its previous run stopped).
      progress.phase = 'signalling';
      if (resumed === null) progress.passes++;
      const firstPass = progress.passes === 1;
      const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
      if (patched(FANOUT_BY_UPDATE)) {
        // By Update, writing the rows here: first the cases visibility shows without the revision, then those
        // whose row does not hold it (an Update whose caller died before writing its row, whatever the attempt).
        const sources = ['visibility', 'read-model'] as const;
        for (const source of sources.slice(resumed ? sources.indexOf(resumed.source) : 0)) {
          let from: string | null = resumed?.source === source ? resumed.from : null;
          do {
            await handOverIfFull({ phase: 'signalling', source, from });
            const page: ApplyPageResult = await applyMissingCases({ policy, source, from, pageSize, signalsPerSecond: input.signalsPerSecond });
            steps++;
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
          // The next run applies by Update (a new run takes FANOUT_BY_UPDATE), from the same visibility page.
          await handOverIfFull({ phase: 'signalling', source: 'visibility', from: pageToken });
          const page: MissingPageResult = await signalMissingCases({ policy, pageToken, pageSize, signalsPerSecond: input.signalsPerSecond });
          steps++;
          if (page.superseded) return superseded();
          if (firstPass) progress.matched += page.listed;
          else progress.lateStarters += page.listed;
          progress.signalled += page.signalled;
          progress.failed += page.failed;
          pageToken = page.nextPageToken;
        } while (pageToken !== null);
      }
      progress.phase = 'waiting';
      await report('running');
    }

    // Count while the cases apply it; done when a count after the lag finds none. The waits double while the
    // counts do not fall, up to MAX_WAIT_MS, and never fall below the lag, however long it is.
    const backedOff = Math.min(MAX_WAIT_MS, lagMs * 2 ** stalledPasses);
    const waitMs = lagMs > MAX_WAIT_MS && patched(FANOUT_WAIT_AT_LEAST_LAG) ? lagMs : backedOff;
    let best = resumed?.phase === 'waiting' ? (resumed.best ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    let stalled = resumed?.phase === 'waiting' ? resumed.stalled : 0;
    while (stalled < STALLED_WAITS) {
      await handOverIfFull({ phase: 'waiting', best: Number.isFinite(best) ? best : null, stalled });
      await sleep(waitMs, { summary: 'Venter på at sagerne anvender revisionen' });
      const count = await countMissingCases({ policy });
      steps++;
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
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > maxHistoryEvents) {
      await continueAsNew<typeof policyFanoutWorkflow>({ ...input, progress, resume: { stalledPasses, at: null } });
    }
  }
}
