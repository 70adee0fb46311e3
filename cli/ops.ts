/**
 * Operations CLI, through the API (cli/api-client.ts: --api, --key; the ops development key by default):
 *
 *   policy list | policy show <policyId> | policy resend <policyId>
 *   verify                 per newest policy revision, the open cases in scope that lack it; read-model rows
 *                          behind, ahead, of another run or content than their case, or altered; cases that
 *                          never ran; case_policies rows the case does not hold; fan-outs never started or
 *                          dead. Exit 1 if anything is left.
 *   repair                 starts pending fan-outs, closes dead ones, gives missing cases their revision (by
 *                          Update, within the fan-out's window and rate), rewrites stale rows, fixes
 *                          case_policies, round after round until verify is clean (exit 0) or a round changes
 *                          nothing (exit 1)
 *   read-model rebuild     rewrites every case's row from its workflow (after Postgres was restored from an
 *                          older backup), then verifies
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import type { RepairRound, VerifyReport } from '../api/ops/report';
import type { FanoutRow } from '../policies/registry';
import { API_OPTIONS, API_OPTIONS_USAGE, apiClient } from './api-client';
import { commandLine, usageError } from './command-line';

type Fanout = Omit<FanoutRow, 'policyId' | 'revision'>;
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

const USAGE = `usage: npm run ops -- <command> [--api URL] [--key KEY]

  policy list               the newest revision of every policy: state, period, how many cases applied it
  policy show <policyId>    one policy as JSON: its newest revision, fan-outs and history
  policy resend <policyId>  runs the newest revision's fan-out again, with a progress bar
  verify                    what is missing, stale, pending or dead (exit 1 if anything is); with
                            --grace-seconds N, cases started less than N seconds ago (default 120) are
                            not reported as never run
  repair                    starts pending fan-outs, closes dead ones, gives missing cases their revision
                            (within the fan-out's window and rate), rewrites stale rows and fixes
                            case_policies, until clean
  read-model rebuild        rewrites every case's row from its workflow, then verifies

${API_OPTIONS_USAGE}`;

function fail(message: string): never {
  process.stderr.write(`ops: ${message}\n`);
  process.exit(1);
}

/**
 * A progress display on stdout: on a terminal a line redrawn in place; elsewhere (CI, a test reading the
 * output) a plain line every second and a last one when it stops.
 */
function progress(format: string): SingleBar {
  const tty = process.stdout.isTTY === true;
  return new SingleBar({
    stream: process.stdout,
    format,
    barsize: 30,
    barCompleteChar: '#',
    barIncompleteChar: '-',
    noTTYOutput: true,
    notTTYSchedule: 1_000,
    // Off a terminal, clearing writes nothing, and so spares the empty line a stop would otherwise add.
    clearOnComplete: !tty,
  });
}

const line = (p: Policy) =>
  `${p.policyId} rev. ${p.revision}  ${p.state.padEnd(9)} ${p.effectiveFrom}..${p.effectiveTo ?? ''}  applied by ${p.applied} cases  ${p.title}`;

const out = (text: string) => process.stdout.write(text + '\n');

/** Prints a verify report; returns how many things are left (missing cases, stale rows, pending or dead fan-outs). */
function printVerify(report: VerifyReport): number {
  for (const p of report.policies) {
    out(`policy ${p.policyId} rev. ${p.revision}: ${p.missing === 0 ? 'every open case in scope has it' : `${p.missing} open cases in scope lack it (${p.sample.slice(0, 5).join(', ')}${p.missing > 5 ? ', ...' : ''})`}`);
  }
  if (report.pendingFanouts.length > 0) out(`fan-outs stored but not started: ${report.pendingFanouts.join(', ')}`);
  if (report.deadFanouts.length > 0) out(`fan-outs closed or gone while their row says pending or running: ${report.deadFanouts.join(', ')}`);
  const rm = report.readModel;
  const samples = rm.sample.slice(0, 5).map((s) => `${s.caseId}: ${s.problem}, workflow ${s.workflow ?? 'none'}, row ${s.row ?? 'none'}`);
  out(
    `read model: ${rm.cases} cases compared, ${rm.behind} behind, ${rm.ahead} ahead, ${rm.differs} of another run or content, ${rm.altered} altered, ${rm.notRun} never ran${samples.length > 0 ? ` (${samples.join('; ')})` : ''}`,
  );
  const cp = report.casePolicies;
  if (cp.stale + cp.missing > 0) {
    out(`case_policies: ${cp.stale} rows for revisions the case does not hold, ${cp.missing} revisions held but not recorded (${cp.sample.slice(0, 5).map((s) => `${s.caseId} ${s.policyId}#${s.revision} ${s.problem}`).join('; ')})`);
  }
  const missing = report.policies.reduce((n, p) => n + p.missing, 0);
  const stale = rm.behind + rm.ahead + rm.differs + rm.altered + rm.notRun + cp.stale + cp.missing;
  const fanouts = report.pendingFanouts.length + report.deadFanouts.length;
  out(`${report.ok ? 'OK' : 'NOT CONVERGED'}: ${missing} missing, ${stale} stale, ${report.pendingFanouts.length} pending fan-outs, ${report.deadFanouts.length} dead fan-outs`);
  return missing + stale + fanouts;
}

async function main(): Promise<void> {
  const { values, positionals } = commandLine('ops', USAGE, { ...API_OPTIONS, 'grace-seconds': { type: 'string' } });
  const api = apiClient(values, 'ops');
  const call = async <T>(method: string, path: string, body?: unknown) => (await api.call<T>(method, path, body)).body;
  const [noun, verb, policyId, ...extra] = positionals;
  const command = positionals.join(' ');
  const grace = values['grace-seconds'];
  if (grace !== undefined && !/^\d+$/.test(grace)) usageError('ops', USAGE, `--grace-seconds must be a whole number of seconds, not '${grace}'`);
  const verify = () => call<VerifyReport>('GET', `/api/v1/ops/verify${grace !== undefined ? `?graceSeconds=${grace}` : ''}`);
  const takes = (words: number) => {
    if (extra.length > 0 || positionals.length !== words) usageError('ops', USAGE, `unknown command '${command}'`);
  };

  if (noun === 'verify') {
    takes(1);
    process.exitCode = printVerify(await verify()) === 0 ? 0 : 1;
    return;
  }
  if (noun === 'repair') {
    takes(1);
    let report = await verify();
    let left = printVerify(report);
    for (let round = 1; left > 0; round++) {
      const done = await call<RepairRound>('POST', '/api/v1/ops/repair', {});
      out(
        `repair round ${round}: ${done.fanoutsStarted} fan-outs started, ${done.fanoutsClosed} dead fan-outs closed, ${done.signalled} cases given a revision, ${done.rewritten} rows rewritten, ${done.casePoliciesFixed} case_policies rows fixed`,
      );
      // The cases have applied the revision when the round answers; visibility shows it moments later.
      await sleep(3_000);
      report = await verify();
      const before = left;
      left = printVerify(report);
      if (left > 0 && left >= before && done.fanoutsStarted + done.fanoutsClosed + done.signalled + done.rewritten + done.casePoliciesFixed === 0) break;
      if (round >= 20) break;
    }
    out(left === 0 ? 'Repaired: nothing missing, nothing stale.' : `Left after repair: ${left}`);
    process.exitCode = left === 0 ? 0 : 1;
    return;
  }
  if (noun === 'read-model' && verb === 'rebuild') {
    takes(2);
    let pageToken: string | null = null;
    let cases = 0;
    let rewritten = 0;
    const shown = progress('rebuilding: {cases} cases read, {rewritten} rows written');
    shown.start(0, 0, { cases, rewritten });
    try {
      do {
        const page: { cases: number; rewritten: number; nextPageToken: string | null } = await call('POST', '/api/v1/ops/read-model/rebuild', { pageToken });
        cases += page.cases;
        rewritten += page.rewritten;
        pageToken = page.nextPageToken;
        shown.update({ cases, rewritten });
      } while (pageToken !== null);
    } finally {
      shown.stop();
    }
    out(`Rebuilt: ${rewritten} of ${cases} cases written from their workflows.`);
    process.exitCode = printVerify(await verify()) === 0 ? 0 : 1;
    return;
  }
  if (noun !== 'policy' || !verb) usageError('ops', USAGE, command ? `unknown command '${command}'` : 'no command given');

  if (verb === 'list') {
    takes(2);
    const { policies } = await call<{ policies: Policy[] }>('GET', '/api/v1/policy-changes');
    for (const p of policies) out(line(p));
    return;
  }
  if (verb !== 'show' && verb !== 'resend') usageError('ops', USAGE, `unknown command '${command}'`);
  if (!policyId) usageError('ops', USAGE, `policy ${verb} needs a policyId`);
  takes(3);
  const path = `/api/v1/policy-changes/${encodeURIComponent(policyId)}`;
  if (verb === 'show') {
    out(JSON.stringify(await call<Policy>('GET', path), null, 2));
    return;
  }

  const started = await call<Policy & { fanoutWorkflowId: string }>('POST', `${path}/resend`);
  out(`Re-sending ${started.policyId} rev. ${started.revision} (${started.fanoutWorkflowId})`);
  const shown = progress('[{bar}] {percentage}% pass {passes} · signalled {signalled}/{total} · closed {failed} · still lacking {missing}');
  try {
    for (;;) {
      const policy = await call<Policy>('GET', path);
      const run = policy.fanouts.find((f) => f.workflowId === started.fanoutWorkflowId);
      if (run) {
        // Closed cases count as done: the fan-out will not signal them.
        const total = run.matched + run.lateStarters;
        const figures = { passes: run.passes, signalled: run.signalled, failed: run.failed, missing: run.missing ?? '?' };
        if (shown.isActive) {
          shown.setTotal(total);
          shown.update(run.signalled + run.failed, figures);
        } else shown.start(total, run.signalled + run.failed, figures);
        if (run.status === 'completed' || run.status === 'superseded') {
          shown.stop();
          out(`Done (${run.status}): ${run.matched} cases lacked it, ${run.lateStarters} more found by later passes, ${run.signalled} signals, ${run.failed} closed meanwhile; ${policy.applied} cases carry the revision.`);
          return;
        }
      }
      await sleep(250);
    }
  } finally {
    shown.stop();
  }
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
