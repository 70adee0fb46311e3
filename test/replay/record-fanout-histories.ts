import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import webpack from 'webpack';
import { workflowBundleOptions } from '../../worker/worker';
import { type PolicyRevision } from '../../workflows/domain/types';
import { type PolicyFanoutInput, POLICY_FANOUT_WORKFLOW_TYPE } from '../../workflows/messages';
import { startTimeSkipping } from '../support/servers';

/**
 * Records histories of the policy fan-out for test/replay/fanout.test.ts, on the time-skipping server with
 * activities that simulate the set of cases. Run it with the workflow code of the release being recorded:
 *
 *   npm run histories:record -- fanout <version>
 *
 * Scenarios: `by-update` (passes of pages, a stalled count, a second pass), `long-pass` (one pass long enough
 * to continue as new, both runs), and `by-signal`, the release before `fanout-by-update` (the same code with
 * that patch taken as absent, which is what a replay of such a fan-out sees).
 */
const FANOUT_TS = path.resolve('workflows', 'policy-fanout-workflow.ts');

export const RECORDED_POLICY: PolicyRevision = {
  policyId: 'recorded-fanout',
  revision: 1,
  title: 'Recorded fan-out',
  effectiveFrom: '2020-03-20',
  effectiveTo: null,
  scope: { type: 'all' },
  effects: [{ type: 'pauseDeadlines' }],
};

/** Activities over a simulated set: `pages[pass]` visibility pages of `pageSize` cases, then the counts in turn. */
function simulated(pages: number[], counts: number[]) {
  let pass = -1;
  let count = 0;
  const page = (from: string | null, pageSize: number) => {
    if (from === null) pass++;
    const index = from === null ? 0 : Number(from);
    const last = index + 1 >= (pages[pass] ?? 1);
    return { listed: (pages[pass] ?? 0) === 0 ? 0 : pageSize, next: last ? null : String(index + 1) };
  };
  return {
    recordFanoutProgress: async () => undefined,
    applyMissingCases: async ({ source, from, pageSize }: { source: 'visibility' | 'read-model'; from: string | null; pageSize: number }) => {
      if (source === 'read-model') return { superseded: false, listed: 0, applied: 0, had: 0, failed: 0, unsent: 0, next: null };
      const { listed, next } = page(from, pageSize);
      return { superseded: false, listed, applied: listed, had: 0, failed: 0, unsent: 0, next };
    },
    signalMissingCases: async ({ pageToken, pageSize }: { pageToken: string | null; pageSize: number }) => {
      const { listed, next } = page(pageToken, pageSize);
      return { superseded: false, listed, signalled: listed, failed: 0, unsent: 0, nextPageToken: next };
    },
    countMissingCases: async () => ({ superseded: false, missing: counts[Math.min(count++, counts.length - 1)]! }),
  };
}

async function bundle(replacement?: string) {
  return bundleWorkflowCode({
    ...workflowBundleOptions(),
    logger: new DefaultLogger('WARN'),
    ...(replacement
      ? { webpackConfigHook: (config: webpack.Configuration) => ({ ...config, plugins: [...(config.plugins ?? []), new webpack.NormalModuleReplacementPlugin(/[\\/]policy-fanout-workflow$/, replacement)] }) }
      : {}),
  });
}

export async function recordFanoutHistories(version: string): Promise<void> {
  const dir = path.resolve('test', 'replay', 'fanout-histories', version);
  mkdirSync(dir, { recursive: true });
  // The release before `fanout-by-update`: the same workflow with the patch absent, as a replay of it sees.
  const bySignal = path.resolve('test', 'replay', '.policy-fanout-by-signal.tmp.ts');
  writeFileSync(
    bySignal,
    readFileSync(FANOUT_TS, 'utf8')
      .replace('patched(FANOUT_BY_UPDATE)', 'false')
      .replace(/from '\.\.\/activities'/g, "from '../../activities'")
      .replace(/from '\.\/(\w+)'/g, "from '../../workflows/$1'"),
  );
  const env = await startTimeSkipping();
  try {
    const scenarios: { name: string; code: { code: string }; pages: number[]; counts: number[]; pageSize: number; runs: number }[] = [
      { name: 'by-update', code: await bundle(), pages: [12, 1], counts: [9, 5, 5, 5, 0], pageSize: 3, runs: 1 },
      { name: 'long-pass', code: await bundle(), pages: [340, 1], counts: [4, 4, 4, 0], pageSize: 3, runs: 2 },
      { name: 'by-signal', code: await bundle(bySignal), pages: [12, 1], counts: [9, 5, 5, 5, 0], pageSize: 3, runs: 1 },
    ];
    for (const s of scenarios) {
      const taskQueue = `record-fanout-${s.name}`;
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: s.code, activities: simulated(s.pages, s.counts) });
      await worker.runUntil(async () => {
        const input: PolicyFanoutInput = { policy: RECORDED_POLICY, kind: 'publish', signalsPerSecond: 100, pageSize: s.pageSize, visibilityLagMs: 1_000 };
        const handle = await env.client.workflow.start(POLICY_FANOUT_WORKFLOW_TYPE, { workflowId: `policy-fanout-${s.name}-${version}`, taskQueue, args: [input] });
        await handle.result();
        let runId: string | undefined = handle.firstExecutionRunId;
        for (let run = 1; run <= s.runs && runId; run++) {
          const history = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
          writeFileSync(path.join(dir, `${s.name}-run${run}.binpb`), temporal.api.history.v1.History.encode(history).finish());
          runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
        }
      });
    }
    process.stdout.write(`wrote ${dir}\n`);
  } finally {
    rmSync(bySignal, { force: true });
    await env.teardown();
  }
}

if (require.main === module) {
  recordFanoutHistories(process.argv[2] ?? 'current').catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
