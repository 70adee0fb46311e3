import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { copenhagenDate } from '../../workflows/domain/dates';
import { clusterPortsFrom } from '../../dev/temporal-cluster/config';
import { portFree } from '../../dev/ports';
import { temporalTlsFiles } from '../../platform/tls-certificates';
import { tlsHandshake } from '../support/processes';
import { clusterToolPaths, freePort, toolPaths } from '../support/servers';
import { alive, descendants, startLocalStack, stop, until } from '../support/local-stack';

/**
 * The README's cluster command, `npm run dev -- --cluster`, runs dev/local-stack.ts --cluster (built to
 * dist/ by the global setup). Here it runs on free ports with its own data folder: the Temporal server on
 * Postgres behind mutual TLS (certificates made once into the data folder), the UI server pointed at the API's
 * codec server, two workers and two APIs; one worker killed while the other carries on; SIGTERM stops every
 * process; a second start finds the namespace, the case and the certificates.
 */
let dataDir: string;
let ports: { temporal: number; ui: number; api: number; pg: number; metrics: number };

/** A base port whose every neighbour the cluster uses is free, below 32768 (clusterPortsFrom). */
async function freeRun(offsets: number[]): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 22_000);
    if ((await Promise.all(offsets.map((o) => portFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free run of ports found');
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'sfe-cluster-stack-'));
  chmodSync(dataDir, 0o755);
  const temporal = await freeRun(Object.values(clusterPortsFrom(20_000)).map((p) => p - 20_000));
  ports = { temporal, ui: await freePort(), api: await freeRun([0, 1]), pg: await freePort(), metrics: await freeRun([0, 1]) };
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function startStack() {
  const tools = clusterToolPaths();
  return startLocalStack(['--cluster'], {
    API_PUBLIC_URL: '',
    CODEC_CORS_ORIGINS: '',
    SFE_DATA_DIR: dataDir,
    TEMPORAL_SERVER_PATH: tools.server,
    TEMPORAL_SQL_TOOL_PATH: tools.sqlTool,
    TEMPORAL_SCHEMA_DIR: tools.schemaDir,
    TEMPORAL_UI_SERVER_PATH: tools.uiServer,
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    PORT: String(ports.api),
    LOCAL_PG_PORT: String(ports.pg),
    WORKER_METRICS_PORT: String(ports.metrics),
  });
}

test('npm run dev -- --cluster: the Temporal server on Postgres with its UI, two workers and two APIs; one worker killed, the other carries on; SIGTERM stops all; data survives', async () => {
  const first = startStack();
  const [api1, api2] = [`http://127.0.0.1:${ports.api}`, `http://127.0.0.1:${ports.api + 1}`];
  await until(async () => first.output().includes('Development API keys'), 'the addresses to be printed', first.output);
  expect(first.output()).toContain(`certificates for Temporal's mutual TLS made in ${path.join(dataDir, 'temporal-tls')}`);
  expect(first.output()).toContain('namespace default created; search attributes added: CaseId, Municipality');
  expect(first.output()).toContain('both workers polling the task queue');
  for (const api of [api1, api2]) expect((await fetch(`${api}/readyz`)).status).toBe(200);
  expect(first.output()).toContain(`API           http://localhost:${ports.api + 1}`);
  // The standalone UI decodes through the first API's codec server, with the browser's credentials.
  const settings = (await (await fetch(`http://127.0.0.1:${ports.ui}/api/v1/settings`)).json()) as { Codec: { Endpoint: string; IncludeCredentials: boolean } };
  expect(settings.Codec).toMatchObject({ Endpoint: `http://localhost:${ports.api}/codec`, IncludeCredentials: true });
  // The UI server reaches Temporal over mutual TLS with the certificate made into the data folder.
  expect((await fetch(`http://127.0.0.1:${ports.ui}/api/v1/namespaces/default`)).status).toBe(200);
  const tls = temporalTlsFiles(path.join(dataDir, 'temporal-tls'));
  for (const key of [tls.serverKey, tls.clientKey]) expect(statSync(key).mode & 0o777).toBe(0o600);
  const ca = readFileSync(tls.ca);
  // Without a client certificate the frontend refuses; with the one in the data folder it accepts.
  expect(await tlsHandshake(ports.temporal, tls)).toBe('refused: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  expect(await tlsHandshake(ports.temporal, tls, { cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) })).toBe('accepted');
  // The Temporal CLI as the stack prints it works; the same command without the certificate does not.
  const printed = /\[local\] Temporal CLI {2}temporal (.+)$/m.exec(first.output())![1]!.split(' ');
  const cli = (args: string[]) => promisify(execFile)(toolPaths().cli, [...args, '--command-timeout', '5s']).then(() => 'listed', () => 'failed');
  expect(await cli(printed)).toBe('listed');
  expect(await cli(['workflow', 'list', '--address', `127.0.0.1:${ports.temporal}`])).toBe('failed');
  const preflight = await fetch(`${api2}/codec/decode`, { method: 'OPTIONS', headers: { origin: `http://localhost:${ports.ui}`, 'access-control-request-method': 'POST' } });
  expect(preflight.headers.get('access-control-allow-origin')).toBe(`http://localhost:${ports.ui}`);

  const keys = JSON.parse(readFileSync(path.join(dataDir, 'api-keys.json'), 'utf8')) as Record<string, string>;
  const auth = { authorization: `Bearer ${keys['case-system']}`, 'content-type': 'application/json' };
  const body = { caseId: 'CSTACK-1', citizenRef: 'REF-S', municipality: '101', firstAbsenceDay: copenhagenDate(Date.now()) };
  expect((await fetch(`${api1}/api/v1/cases`, { method: 'POST', headers: auth, body: JSON.stringify(body) })).status).toBe(201);

  const processes = descendants(first.child.pid!);
  const workers = processes.filter((p) => p.command.includes('dist/worker/main.js') && !p.command.startsWith('nice'));
  expect(workers).toHaveLength(2);
  expect(processes.filter((p) => p.command.includes('dist/api/main.js'))).toHaveLength(2);
  expect(processes.some((p) => p.command.includes('temporal-server'))).toBe(true);
  expect(processes.some((p) => p.command.includes('temporal-ui-server'))).toBe(true);
  process.kill(workers[0]!.pid, 'SIGKILL');
  await until(async () => first.output().includes('1 other worker carries on'), 'the killed worker to be reported', first.output);
  const event = { eventId: 'c1', type: 'categorized', category: 2, occurredOn: body.firstAbsenceDay };
  const answered = await fetch(`${api2}/api/v1/cases/CSTACK-1/events`, { method: 'POST', headers: auth, body: JSON.stringify(event) });
  expect(answered.status).toBe(200);
  expect(((await answered.json()) as { category: number }).category).toBe(2);
  expect(first.child.exitCode).toBeNull();

  expect(await stop(first.child)).toBe(0);
  expect(processes.map((p) => p.pid).filter(alive)).toEqual([]);

  const second = startStack();
  await until(async () => second.output().includes('Development API keys'), 'the addresses to be printed again', second.output);
  expect(second.output()).toContain('namespace default present; search attributes present');
  // Made once: the second start keeps the certificates the first made.
  expect(second.output()).toContain(`certificates for Temporal's mutual TLS in ${tls.dir}`);
  expect(readFileSync(tls.ca)).toEqual(ca);
  const read = await fetch(`${api2}/api/v1/cases/CSTACK-1`, { headers: auth });
  expect(await read.json()).toMatchObject({ caseId: 'CSTACK-1', category: 2, status: 'open' });
  const again = descendants(second.child.pid!);
  expect(await stop(second.child)).toBe(0);
  expect(again.map((p) => p.pid).filter(alive)).toEqual([]);
  // The whole cluster starts twice (about 70 s on an idle machine); on a loaded one 120 s was too little.
}, 300_000);
