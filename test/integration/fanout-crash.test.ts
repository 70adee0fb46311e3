import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { caseWorkflowId, policyFanoutWorkflowId, timelineQuery } from '../../workflows/messages';
import { eventually, startSystem, type TestSystem } from '../support/system';

/**
 * A worker killed (SIGKILL) in the middle of a fan-out: a new worker resumes it where the heartbeat left
 * it, and every case ends up with the revision exactly once. The worker runs as the production entry
 * point (dist/worker/main.js), configured by environment variables.
 */
const root = path.resolve(__dirname, '..', '..');
const CASES = 200;
let system: TestSystem;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  // 40 signals a second: the fan-out takes about 5 s, long enough to be killed halfway.
  system = await startSystem({ taskQueue: 'fanout-crash', inProcessWorker: false, fanoutSignalsPerSecond: 40 });
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await system?.stop();
});

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'worker', 'main.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: system.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: system.taskQueue,
      DATABASE_URL: system.pg.url,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.push(child);
  return child;
}

test('a fan-out survives a worker crash, and every case applies the revision exactly once', async () => {
  let worker = startWorker();
  const today = copenhagenDate(Date.now());
  const ids = Array.from({ length: CASES }, (_, i) => `CRASH-${i}`);
  for (let from = 0; from < CASES; from += 25) {
    const statuses = await Promise.all(
      ids.slice(from, from + 25).map(async (caseId) => {
        const res = await system.api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality: '101', firstAbsenceDay: addDays(today, -3) });
        return res.status;
      }),
    );
    expect(statuses.every((s) => s === 201)).toBe(true);
  }
  await eventually(
    async () => {
      let n = 0;
      for await (const _ of system.env.client.workflow.list({ query: `WorkflowType = 'caseWorkflow' AND ExecutionStatus = 'Running'` })) n++;
      return n;
    },
    (n) => n === CASES,
    'all cases visible',
  );

  const published = await system.api('POST', '/api/v1/policy-changes', {
    policyId: 'crash-suspension',
    revision: 1,
    title: 'Suspension',
    effectiveFrom: addDays(today, -1),
    scope: { type: 'all' },
    effects: [{ type: 'pauseDeadlines' }],
  });
  expect(published.status).toBe(201);
  const fanout = system.env.client.workflow.getHandle(policyFanoutWorkflowId('crash-suspension', 1));

  // Kill the worker once part of the first page is signalled (the heartbeat carries how far it got).
  await eventually(
    async () => (await system.db.query<{ n: string }>(`SELECT count(*) AS n FROM case_policies WHERE policy_id = 'crash-suspension'`))[0]!.n,
    (n) => Number(n) >= 40,
    'a part of the fan-out',
    300,
  );
  worker.kill('SIGKILL');
  await new Promise((resolve) => worker.once('exit', resolve));
  const appliedAtCrash = Number((await system.db.query<{ n: string }>(`SELECT count(*) AS n FROM case_policies WHERE policy_id = 'crash-suspension'`))[0]!.n);
  expect(appliedAtCrash).toBeLessThan(CASES);

  worker = startWorker();
  const progress = await fanout.result();
  expect(progress).toMatchObject({ matched: CASES, failed: 0, phase: 'done' });

  const applied = await eventually(
    () => system.db.query<{ case_id: string; n: string }>(`SELECT case_id, count(*) AS n FROM case_policies WHERE policy_id = 'crash-suspension' GROUP BY case_id`),
    (rows) => rows.length === CASES,
    'every case applied',
  );
  expect(applied.every((r) => r.n === '1')).toBe(true);
  for (const caseId of ids.slice(0, 20)) {
    const timeline = await system.env.client.workflow.getHandle(caseWorkflowId(caseId)).query(timelineQuery);
    expect(timeline.policies.filter((p) => p.policyId === 'crash-suspension')).toHaveLength(1);
    expect(timeline.deadlines.find((d) => d.id === 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null });
  }
  const view = await system.api('GET', '/api/v1/policy-changes/crash-suspension');
  expect(view.body).toMatchObject({ applied: CASES, fanouts: [expect.objectContaining({ status: 'completed', matched: CASES })] });

  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
});
