import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { addDays, addMonths, copenhagenDate } from '../../workflows/domain/dates';
import { type CaseEvent, type CaseFacts, type PolicyRevision } from '../../workflows/domain/types';
import { applyPolicyUpdate, caseEventSignal, caseWorkflowId, policyChangeSignal, reportEventUpdate } from '../../workflows/messages';
import { recordingWorker } from './recording-worker';

/**
 * Records the replay corpus (test/replay/corpus/<version>/): a cohort of cases whose histories hold every
 * event type, every policy effect, a revision, a lift (effectiveTo), an update and a signal of each kind,
 * an activity retry and a continue-as-new, in the order a year of follow-up brings them. The replay test
 * runs the current workflow code over every stored corpus, so a change that alters the commands of a
 * running case (a rule fix included) fails there unless it is guarded (README, Safe deploys).
 *
 *   npm run histories:record -- corpus <version>
 */
async function main(): Promise<void> {
  const version = process.argv[2] ?? 'current';
  const taskQueue = 'record-corpus';
  const { env, stop } = await recordingWorker(taskQueue, 5);
  try {
    const today = async () => copenhagenDate(await env.currentTimeMs());
    const F = await today();
    const cohort: Record<string, Partial<CaseFacts> & { maxHistoryEvents?: number }> = {
      'category-1': { informationFormSentOn: F },
      'category-2': { employment: 'unemployed' },
      'category-3': { municipality: '461' },
      'job-clarification': { municipality: '851' },
      'long-history': { municipality: '147', maxHistoryEvents: 60 },
    };
    const handles = Object.fromEntries(
      await Promise.all(
        Object.entries(cohort).map(async ([name, { maxHistoryEvents, ...extra }]) => {
          const caseId = `CORPUS-${version}-${name}`;
          const facts: CaseFacts = { caseId, citizenRef: `REF-${name}`, municipality: '101', firstAbsenceDay: F, employment: 'employee', ...extra };
          await env.client.workflow.start('caseWorkflow', { workflowId: caseWorkflowId(caseId), taskQueue, args: [{ facts, maxHistoryEvents }] });
          return [name, env.client.workflow.getHandle(caseWorkflowId(caseId))] as const;
        }),
      ),
    );
    let n = 0;
    const report = async (name: string, e: Record<string, unknown>) => {
      const event = { eventId: `${name}-${++n}`, occurredOn: await today(), ...e } as CaseEvent;
      await handles[name]!.executeUpdate(reportEventUpdate, { args: [event] }).catch((err: unknown) => {
        throw new Error(`${name} ${event.type}: ${(err as { cause?: Error }).cause?.message ?? String(err)}`);
      });
    };
    const signal = async (name: string, e: Record<string, unknown>) =>
      handles[name]!.signal(caseEventSignal, { eventId: `${name}-${++n}`, occurredOn: await today(), ...e } as CaseEvent);
    const publish = async (policy: PolicyRevision, by: 'update' | 'signal' = 'update') => {
      for (const h of Object.values(handles)) {
        if (by === 'update') await h.executeUpdate(applyPolicyUpdate, { args: [policy] }).catch(() => undefined); // a closed case refuses it
        else await h.signal(policyChangeSignal, policy).catch(() => undefined);
      }
    };
    const policy = (policyId: string, effects: PolicyRevision['effects'], extra: Partial<PolicyRevision> = {}): PolicyRevision => ({
      policyId,
      revision: 1,
      title: policyId,
      legalReference: 'corpus',
      effectiveFrom: F,
      effectiveTo: null,
      scope: { type: 'all' },
      effects,
      ...extra,
    });

    await env.sleep('3 days');
    await report('category-1', { type: 'information-form-received' });
    await report('category-1', { type: 'fast-track-requested', requestedBy: 'employer' });
    await report('category-1', { type: 'categorized', category: 1 });
    await report('category-2', { type: 'categorized', category: 2 });
    await report('category-3', { type: 'categorized', category: 3 });
    await report('job-clarification', { type: 'categorized', category: 2 });
    await report('long-history', { type: 'categorized', category: 2 });
    await report('category-2', { type: 'certificate-requested' });
    await signal('category-3', { type: 'certificate-requested' });
    await env.sleep('10 days');
    const remote = policy('corpus-remote', [{ type: 'switchConversationMode', mode: 'phone', consentRequired: true }], { effectiveFrom: await today() });
    await publish(remote);
    await report('category-1', { type: 'conversation-held', mode: 'phone' });
    await report('category-1', { type: 'recovered' });
    await report('category-2', { type: 'certificate-received', validUntil: addDays(await today(), 30) });
    const pause = policy('corpus-pause', [{ type: 'pauseDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }], { effectiveFrom: await today() });
    await publish(pause);
    await publish(policy('corpus-certificates', [{ type: 'extendCertificateValidity', days: 30 }], { effectiveFrom: await today() }), 'signal');
    await env.sleep('30 days');
    await publish({ ...pause, revision: 2, effectiveTo: await today() });
    await publish({ ...remote, revision: 2, effects: [{ type: 'switchConversationMode', mode: 'video' }] }, 'signal');
    await env.sleep('20 days');
    await report('category-2', { type: 'conversation-held', mode: 'video' });
    await report('category-3', { type: 'conversation-held', mode: 'video', category: 3 });
    await report('job-clarification', { type: 'conversation-held', mode: 'phone' });
    for (let i = 0; i < 8; i++) await signal('long-history', { type: 'certificate-requested' });
    await report('long-history', { type: 'conversation-held', mode: 'phone' });
    await env.sleep('14 days');
    await report('category-3', { type: 'rehabilitation-team-held' });
    await publish(policy('corpus-waiver', [{ type: 'waiveDeadlines', kinds: ['follow-up-conversation'] }], { effectiveFrom: await today(), effectiveTo: addDays(await today(), 28) }));
    await publish(
      policy('corpus-benefit-extension', [{ type: 'extendBenefitPeriod', months: 3, reviewPointsFrom: F, reviewPointsTo: addMonths(F, 12) }], { effectiveFrom: await today() }),
    );
    await env.sleep('28 days');
    await report('category-2', { type: 'conversation-held', mode: 'in-person' });
    await env.sleep('120 days');
    await report('job-clarification', { type: 'reassessment-decided', outcome: 'job-clarification' });
    await report('job-clarification', { type: 'rehabilitation-team-held' });
    await report('category-3', { type: 'reassessment-decided', outcome: 'extension', ground: '2', until: addDays(await today(), 60) });
    await env.sleep('30 days');
    await report('category-2', { type: 'benefit-stopped' });
    await report('category-3', { type: 'recovered' });
    await report('long-history', { type: 'recovered' });

    const dir = path.resolve('test', 'replay', 'corpus', version);
    mkdirSync(dir, { recursive: true });
    for (const [name, handle] of Object.entries(handles)) {
      // Every run of a case that continued as new: each run is a history a worker may have to replay.
      const runs: temporal.api.history.v1.IHistory[] = [];
      let runId: string | null | undefined = (await handle.describe()).raw.workflowExecutionInfo?.firstRunId;
      while (runId) {
        const history = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
        runs.push(history);
        runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      }
      runs.forEach((history, i) => {
        const file = path.join(dir, `${name}${runs.length > 1 ? `-run${i + 1}` : ''}.binpb`);
        writeFileSync(file, temporal.api.history.v1.History.encode(history).finish());
        process.stdout.write(`wrote ${file} (${history.events?.length} events)\n`);
      });
    }
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
