/**
 * Operations CLI, through the API: `npm run ops -- policy resend <policyId>` re-runs the fan-out of a
 * policy's newest revision and shows its progress; `policy list` and `policy show <policyId>` read the
 * registry. The API and key: see scripts/api-client.ts (--api, --key; the ops development key by default).
 */
import { apiClient } from './api-client';

interface Fanout {
  workflowId: string;
  status: 'running' | 'completed';
  matched: number;
  signalled: number;
  failed: number;
  lateStarters: number;
}
interface Policy {
  policyId: string;
  revision: number;
  title: string;
  state: string;
  applied: number;
  effectiveFrom: string;
  effectiveTo: string | null;
  fanouts: Fanout[];
}

const USAGE = `usage: npm run ops -- policy list | policy show <policyId> | policy resend <policyId>  [--api http://localhost:3000] [--key KEY]`;

function fail(message: string): never {
  process.stderr.write(`ops: ${message}\n`);
  process.exit(1);
}

function bar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

const line = (p: Policy) =>
  `${p.policyId} rev. ${p.revision}  ${p.state.padEnd(9)} ${p.effectiveFrom}..${p.effectiveTo ?? ''}  applied by ${p.applied} cases  ${p.title}`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const api = apiClient(args, 'ops');
  const call = async <T>(method: string, path: string) => (await api.call<T>(method, path)).body;
  const [noun, verb, policyId] = args;
  if (noun !== 'policy' || !verb) fail(USAGE);

  if (verb === 'list') {
    const { policies } = await call<{ policies: Policy[] }>('GET', '/api/v1/policy-changes');
    for (const p of policies) process.stdout.write(line(p) + '\n');
    return;
  }
  if (!policyId) fail(USAGE);
  const path = `/api/v1/policy-changes/${encodeURIComponent(policyId)}`;
  if (verb === 'show') {
    process.stdout.write(JSON.stringify(await call<Policy>('GET', path), null, 2) + '\n');
    return;
  }
  if (verb !== 'resend') fail(USAGE);

  const started = await call<Policy & { fanoutWorkflowId: string }>('POST', `${path}/resend`);
  process.stdout.write(`Re-sending ${started.policyId} rev. ${started.revision} (${started.fanoutWorkflowId})\n`);
  const tty = process.stdout.isTTY;
  let lastPrint = 0;
  for (;;) {
    const policy = await call<Policy>('GET', path);
    const run = policy.fanouts.find((f) => f.workflowId === started.fanoutWorkflowId);
    if (run) {
      const total = run.matched + run.lateStarters;
      const text = `${bar(run.signalled + run.failed, total)} signalled ${run.signalled}/${total} · failed ${run.failed} · applied ${policy.applied}`;
      if (tty) process.stdout.write(`\r${text}`);
      else if (run.status === 'completed' || Date.now() - lastPrint > 1_000) {
        process.stdout.write(text + '\n');
        lastPrint = Date.now();
      }
      if (run.status === 'completed') {
        process.stdout.write(
          `${tty ? '\n' : ''}Done: ${run.matched} cases matched (+${run.lateStarters} recent starts checked again), ${run.signalled} signals, ${run.failed} failed; ${policy.applied} cases carry the revision.\n`,
        );
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
