import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type CaseEvent, type PolicyRevision } from '../../workflows/domain/types';
import { applyPolicyUpdate, caseEventSignal, caseWorkflowId, reportEventUpdate } from '../../workflows/messages';
import { recordingWorker } from './recording-worker';

/**
 * Records the histories that test/replay/replay.test.ts replays. Run it (npm run histories:record) when a
 * released version of the workflow is about to change, and commit the new files next to the old ones:
 * every stored history stands for cases that are running somewhere.
 */
async function main(): Promise<void> {
  const version = process.argv[2] ?? 'current';
  const taskQueue = 'record-histories';
  // The third snapshot write fails once, so the history also holds an activity's retry.
  const { env, stop } = await recordingWorker(taskQueue, 3);
  try {
    const today = async () => copenhagenDate(await env.currentTimeMs());
    const F = await today();
    const caseId = `REPLAY-${version}`;
    await env.client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId(caseId),
      taskQueue,
      args: [{ facts: { caseId, citizenRef: 'REF-R', municipality: '101', firstAbsenceDay: F, employment: 'employee', informationFormSentOn: F } }],
    });
    const handle = env.client.workflow.getHandle(caseWorkflowId(caseId));
    let n = 0;
    const report = async (e: Record<string, unknown>) =>
      handle.executeUpdate(reportEventUpdate, { args: [{ eventId: `r${++n}`, occurredOn: await today(), ...e } as CaseEvent] });
    const suspension: PolicyRevision = {
      policyId: 'suspension',
      revision: 1,
      title: 'Suspension',
      effectiveFrom: addDays(F, 20),
      effectiveTo: null,
      scope: { type: 'all' },
      effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }],
    };
    await env.sleep('5 days');
    await report({ type: 'information-form-received' });
    await report({ type: 'categorized', category: 2 });
    await report({ type: 'certificate-requested' });
    await env.sleep('20 days');
    await handle.executeUpdate(applyPolicyUpdate, { args: [suspension] });
    await env.sleep('30 days');
    await handle.executeUpdate(applyPolicyUpdate, { args: [{ ...suspension, revision: 2, effectiveTo: addDays(F, 50) }] });
    await handle.signal(caseEventSignal, { eventId: 'sig-1', type: 'certificate-received', occurredOn: await today() });
    await env.sleep('40 days');
    await report({ type: 'conversation-held', mode: 'phone' });
    await env.sleep('35 days');
    await report({ type: 'conversation-held', mode: 'in-person', category: 3 });
    await env.sleep('10 days');
    await report({ type: 'recovered' });
    await handle.result();
    // Binary protobuf: the SDK's JSON helper and the client do not share one protobufjs instance.
    const file = path.resolve('test', 'replay', 'histories', `case-workflow-${version}.binpb`);
    writeFileSync(file, temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish());
    process.stdout.write(`wrote ${file}\n`);
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
