import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../platform/config';
import { defaultCaseCacheSize } from '../../worker/worker';
import { workerCommand } from '../../platform/dev-server';
import { newKeySpec } from '../../platform/payload-codec';

const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

test('defaults fill everything but the database', () => {
  const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/cases' });
  expect(config).toEqual({
    temporal: { address: 'localhost:7233', namespace: 'default', taskQueue: 'sickness-benefit-cases', apiKey: undefined, tls: undefined, uiUrl: 'http://localhost:8233' },
    databaseUrl: 'postgres://u:p@db:5432/cases',
    port: 3000,
    apiPublicUrl: 'http://localhost:3000',
    apiKeys: [],
    codecCorsOrigins: ['http://localhost:8233'],
    payloadKeyring: undefined,
    writeRatePerSecond: 100,
    fanoutSignalsPerSecond: 2000,
    fanoutMaxInFlight: 8,
    fanoutVisibilityLagMs: 3000,
    logLevel: 'info',
    workerMetricsPort: undefined,
    workerWorkflowThreads: 2,
    workerWorkflowStackTraces: false,
  });
});

test("links to caseworker pages use API_PUBLIC_URL, else the API's own port on localhost", () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', API_PUBLIC_URL: 'https://sygedagpenge.kommune.dk/' }).apiPublicUrl).toBe('https://sygedagpenge.kommune.dk');
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', PORT: '13000' }).apiPublicUrl).toBe('http://localhost:13000');
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_PUBLIC_URL: 'ftp://x' })).toEqual([expect.stringMatching(/^API_PUBLIC_URL: .*\(the API's address as caseworkers' browsers reach it/)]);
});

test('every bad variable is named with its problem', () => {
  expect(problemsOf({ TEMPORAL_ADDRESS: 'nohost', PORT: 'eighty', LOG_LEVEL: 'loud' })).toEqual([
    'TEMPORAL_ADDRESS: must be host:port, e.g. localhost:7233 (host:port of the Temporal frontend)',
    'DATABASE_URL is required (Postgres connection string)',
    expect.stringMatching(/^PORT: .*\(port the API listens on\)$/),
    expect.stringMatching(/^LOG_LEVEL: .*\(debug \| info \| warn \| error\)$/),
  ]);
});

test("the fan-out's window is a whole number of cases, at least one", () => {
  expect(problemsOf({ DATABASE_URL: 'postgres://u:p@db:5432/cases', FANOUT_MAX_IN_FLIGHT: '0' })).toEqual([
    expect.stringMatching(/^FANOUT_MAX_IN_FLIGHT: .*>=1.*\(worker: most cases a fan-out page has signalled/),
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://u:p@db:5432/cases', FANOUT_MAX_IN_FLIGHT: 'many' })).toEqual([expect.stringMatching(/^FANOUT_MAX_IN_FLIGHT: /)]);
});

test('an API key for a hosted Temporal turns on TLS; certificate and key go together', () => {
  const config = loadConfig({ DATABASE_URL: 'postgres://x/y', TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'secret' });
  expect(config.temporal.apiKey).toBe('secret');
  expect(config.temporal.tls).toEqual({ serverName: undefined, ca: undefined, clientCert: undefined });
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', TEMPORAL_TLS_CERT_PATH: __filename })).toEqual([
    'TEMPORAL_TLS_CERT_PATH: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together (client certificate (PEM) for mTLS)',
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', TEMPORAL_TLS_CA_PATH: '/no/such/file' })).toEqual([
    'TEMPORAL_TLS_CA_PATH: must name a readable file (CA bundle (PEM) that signed the server certificate)',
  ]);
});

test('API keys are role:key pairs of known roles and long enough keys', () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'ops:0123456789abcdef, reader:fedcba9876543210' }).apiKeys).toEqual([
    { role: 'ops', key: '0123456789abcdef' },
    { role: 'reader', key: 'fedcba9876543210' },
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'admin:0123456789abcdef' })).toEqual([
    expect.stringMatching(/^API_KEYS: "admin" is not a role \(case-system, ops, reader\); write role:key/),
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'ops:short' })).toEqual([expect.stringMatching(/^API_KEYS: the ops key is shorter than 16 characters/)]);
});

test('payload keys: id:base64 pairs or a key file, the first encrypting; errors name the variable, never a key', () => {
  const base = { DATABASE_URL: 'postgres://u:p@db:5432/cases' };
  const [a, b] = [newKeySpec('2026-11'), newKeySpec('2026-05')];
  const ring = loadConfig({ ...base, PAYLOAD_KEYS: `${a},${b}` }).payloadKeyring!;
  expect(ring.currentKeyId).toBe('2026-11');
  expect([...ring.keys.keys()]).toEqual(['2026-11', '2026-05']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-keys-'));
  writeFileSync(path.join(dir, 'keys'), `${b}\n${a}\n`);
  expect(loadConfig({ ...base, PAYLOAD_KEY_FILE: path.join(dir, 'keys') }).payloadKeyring!.currentKeyId).toBe('2026-05');
  const short = 'k1:' + Buffer.alloc(16).toString('base64');
  expect(() => loadConfig({ ...base, PAYLOAD_KEYS: short })).toThrow('PAYLOAD_KEYS: key k1 must be 32 bytes in base64 (AES-256), not 16');
  try {
    loadConfig({ ...base, PAYLOAD_KEYS: short });
  } catch (err) {
    expect((err as Error).message).not.toContain(short.slice(3));
  }
  expect(() => loadConfig({ ...base, PAYLOAD_KEYS: a, PAYLOAD_KEY_FILE: path.join(dir, 'keys') })).toThrow('set PAYLOAD_KEYS or PAYLOAD_KEY_FILE, not both');
  expect(() => loadConfig({ ...base, CODEC_CORS_ORIGINS: 'http://ui:8080/path' })).toThrow('is not an origin');
  expect(loadConfig({ ...base, TEMPORAL_UI_URL: 'https://temporal.kommune.dk/ui' }).codecCorsOrigins).toEqual(['https://temporal.kommune.dk']);
  rmSync(dir, { recursive: true });
});

test('the worker keeps as many cases as fit its heap, unless told a number', () => {
  const MiB = 1024 * 1024;
  // node's default heap on this machine (4,144 MiB): (4,144 - 512) MiB at 300 kB a case.
  expect(defaultCaseCacheSize(4_144 * MiB)).toBe(12_397);
  expect(defaultCaseCacheSize(2_048 * MiB)).toBe(5_242);
  expect(defaultCaseCacheSize(256 * MiB)).toBe(100);
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', WORKER_MAX_CACHED_WORKFLOWS: '20000' }).workerMaxCachedWorkflows).toBe(20_000);
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y' }).workerMaxCachedWorkflows).toBeUndefined();
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', WORKER_MAX_CACHED_WORKFLOWS: '1' })).toEqual([
    expect.stringMatching(/^WORKER_MAX_CACHED_WORKFLOWS: .*2/),
  ]);
});

test('workflow code runs on two threads unless told otherwise', () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y' }).workerWorkflowThreads).toBe(2);
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', WORKER_WORKFLOW_THREADS: '4' }).workerWorkflowThreads).toBe(4);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', WORKER_WORKFLOW_THREADS: '0' })).toEqual([expect.stringMatching(/^WORKER_WORKFLOW_THREADS: .*1/)]);
});

test("the SDK's workflow stack traces are off unless WORKER_WORKFLOW_STACK_TRACES is on", () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y' }).workerWorkflowStackTraces).toBe(false);
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', WORKER_WORKFLOW_STACK_TRACES: 'on' }).workerWorkflowStackTraces).toBe(true);
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', WORKER_WORKFLOW_STACK_TRACES: 'off' }).workerWorkflowStackTraces).toBe(false);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', WORKER_WORKFLOW_STACK_TRACES: 'yes' })).toEqual([
    expect.stringMatching(/^WORKER_WORKFLOW_STACK_TRACES: .*"on".*"off"/),
  ]);
});

test('next to the dev server the worker starts at nice 10, or as SFE_WORKER_NICENESS says', () => {
  const args = ['dist/worker/main.js'];
  expect(workerCommand('/usr/bin/node', args, {})).toEqual({ command: 'nice', args: ['-n', '10', '/usr/bin/node', 'dist/worker/main.js'] });
  expect(workerCommand('/usr/bin/node', args, { SFE_WORKER_NICENESS: '5' })).toEqual({ command: 'nice', args: ['-n', '5', '/usr/bin/node', 'dist/worker/main.js'] });
  expect(workerCommand('/usr/bin/node', args, { SFE_WORKER_NICENESS: '0' })).toEqual({ command: '/usr/bin/node', args });
  expect(() => workerCommand('/usr/bin/node', args, { SFE_WORKER_NICENESS: '25' })).toThrow('SFE_WORKER_NICENESS must be a whole number from 0 to 19, not "25"');
  expect(() => workerCommand('/usr/bin/node', args, { SFE_WORKER_NICENESS: 'low' })).toThrow('SFE_WORKER_NICENESS must be a whole number from 0 to 19, not "low"');
});

test('an API key may be bound to municipalities (role@101+147:key); an unknown code is named', () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'reader@101+147:0123456789abcdef,ops:fedcba9876543210, case-system@851:0123456789abcdeg' }).apiKeys).toEqual([
    { role: 'reader', key: '0123456789abcdef', municipalities: ['101', '147'] },
    { role: 'ops', key: 'fedcba9876543210' },
    { role: 'case-system', key: '0123456789abcdeg', municipalities: ['851'] },
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'reader@101+999:0123456789abcdef' })).toEqual([
    'API_KEYS: a reader key is bound to "999", which is not a municipality code; write role@101+147:key with codes of the 98 municipalities ' +
      '(API keys of the API, role:key pairs separated by commas (roles case-system, ops, reader); role@101+147:key binds a key to those municipalities)',
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'ops@:0123456789abcdef' })).toEqual([expect.stringMatching(/^API_KEYS: an ops key is bound to "", which is not a municipality code/)]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'admin@101:0123456789abcdef' })).toEqual([expect.stringMatching(/^API_KEYS: "admin" is not a role/)]);
});

test('METRICS_KEY puts /metrics behind a key of at least 16 characters', () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', METRICS_KEY: 'metrics-key-0123456' }).metricsKey).toBe('metrics-key-0123456');
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y' }).metricsKey).toBeUndefined();
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', METRICS_KEY: 'short' })).toEqual([expect.stringMatching(/^METRICS_KEY: must be at least 16 characters/)]);
});
