import http from 'node:http';
import { addDays, copenhagenDate } from '../workflows/domain/dates';
import { caseWorkflowId, type CaseWorkflowInput } from '../workflows/messages';
import { caseStartSearchAttributes } from '../workflows/search-attributes';
import { abort, type BenchStack, benchOptions, cpuDelta, type CpuSeconds, nodeArgsFrom, percentile, say, sleep, startBenchStack } from './support';

/**
 * npm run bench:start -- [--cases 2000] [--concurrency 50] [--warmup 200]
 *
 * Starts cases through the API, run as its own process as deployed (validation, inherited policies from
 * Postgres, workflow start, timeline), and through the bare Temporal client (workflow start only), in the
 * same run against the same server, and prints cases per second, p99 latency and the ratio of the rates.
 * BENCH_API_NODE_ARGS and BENCH_WORKER_NODE_ARGS pass flags to those processes' node, e.g. "--cpu-prof".
 */
const USAGE = `usage: npm run bench:start -- [--cases 2000] [--concurrency 50] [--warmup 200]

  --cases N         cases started through each path (default 2000)
  --concurrency N   starts in flight at a time (default 50)
  --warmup N        cases started through each path before measuring (default 200)`;
const options = benchOptions('bench:start', USAGE, { cases: 2_000, concurrency: 50, warmup: 200 });
const CASES = options.cases;
const CONCURRENCY = options.concurrency;
const WARMUP = options.warmup;

interface Run {
  label: string;
  count: number;
  seconds: number;
  latencies: number[];
  cpu: CpuSeconds;
}

async function run(stack: BenchStack, label: string, count: number, start: (i: number) => Promise<void>): Promise<Run> {
  const latencies: number[] = [];
  const cpuBefore = stack.cpuSeconds();
  let next = 0;
  const began = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await start(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { label, count, seconds: (Date.now() - began) / 1000, latencies, cpu: cpuDelta(cpuBefore, stack.cpuSeconds()) };
}

function combine(a: Run, b: Run) {
  const latencies = [...a.latencies, ...b.latencies];
  const perThousand = (k: keyof CpuSeconds) => ((a.cpu[k] + b.cpu[k]) / (a.count + b.count)) * 1000;
  const cpu = (['api', 'bench', 'temporal', 'worker', 'postgres'] as const).map((k) => `${k} ${perThousand(k).toFixed(1)}`).join(', ');
  return { label: a.label, rate: (a.count + b.count) / (a.seconds + b.seconds), p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpu };
}

async function main(): Promise<void> {
  const stack = await startBenchStack({
    temporal: true,
    apiNodeArgs: nodeArgsFrom('BENCH_API_NODE_ARGS'),
    workerNodeArgs: nodeArgsFrom('BENCH_WORKER_NODE_ARGS'),
  });
  const today = copenhagenDate(Date.now());
  const facts = (prefix: string, i: number) => ({
    caseId: `${prefix}-${i}`,
    citizenRef: `REF-${i}`,
    municipality: '101',
    firstAbsenceDay: addDays(today, -(i % 40)),
    employment: 'employee' as const,
  });

  // A case system's HTTP client: keep-alive connections, one per request in flight (as the bare client
  // keeps its one gRPC connection). node:http costs this process less CPU than fetch on two shared cores.
  let agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(`${stack.api}/api/v1/cases`);
  const post = (body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${stack.keys['case-system']}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  // Connections left idle longer than the API's keep-alive timeout (5 s, node's default) may be closed by
  // the API just as they are reused; each API phase therefore opens its own.
  const freshConnections = () => {
    agent.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  };
  const viaApi = (prefix: string) => async (i: number) => {
    const res = await post(JSON.stringify(facts(prefix, i)));
    if (res.status !== 201) throw new Error(`case ${i}: ${res.status} ${res.text}`);
    if (!JSON.parse(res.text).deadlines) throw new Error(`case ${i}: the answer has no timeline`);
  };
  const viaClient = (prefix: string) => async (i: number) => {
    const f = facts(prefix, i);
    const input: CaseWorkflowInput = { facts: f, policies: [] };
    await stack.client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId(f.caseId),
      taskQueue: stack.taskQueue,
      args: [input],
      typedSearchAttributes: caseStartSearchAttributes(f.caseId, f.municipality),
    });
  };

  // Warm-up, not measured: both paths once, so that neither half pays for JIT compilation, connection
  // set-up or the worker's first workflows; then the worker finishes those cases' first tasks.
  say(`Warming up with ${WARMUP} cases through each path ...`);
  await run(stack, 'API', WARMUP, viaApi('WARM-API'));
  await run(stack, 'bare client', WARMUP, viaClient('WARM-BARE'));
  while (Number((await stack.db.query<{ n: string }>('SELECT count(*) AS n FROM cases'))[0]!.n) < 2 * WARMUP) await sleep(200);

  // Both paths leave the worker a backlog of first workflow tasks that slows whatever runs next, so
  // each runs in two halves, alternating, and the halves are added up.
  const half = Math.floor(CASES / 2);
  say(`Starting ${CASES} cases through the API and ${CASES} through the bare client, ${CONCURRENCY} at a time, in alternating halves ...`);
  freshConnections();
  const a1 = await run(stack, 'API', half, viaApi('API'));
  const b1 = await run(stack, 'bare client', half, viaClient('BARE'));
  const b2 = await run(stack, 'bare client', CASES - half, (i) => viaClient('BARE')(half + i));
  freshConnections();
  const a2 = await run(stack, 'API', CASES - half, (i) => viaApi('API')(half + i));
  const api = combine(a1, a2);
  const bare = combine(b1, b2);

  say('');
  for (const r of [api, bare]) say(`${r.label.padEnd(12)} ${r.rate.toFixed(0).padStart(6)} cases/s   p50 ${r.p50.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms`);
  for (const r of [api, bare]) say(`${r.label.padEnd(12)} CPU seconds per 1,000 cases: ${r.cpu}`);
  say(`ratio API / bare client: ${(api.rate / bare.rate).toFixed(2)}   (target >= 0.8)`);
  await stack.stop();
}

main().catch(abort);
