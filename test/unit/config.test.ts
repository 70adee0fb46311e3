import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../../platform/config';
import { problemsOf } from '../support/config';
import { defaultCaseCacheSize } from '../../worker/worker';
import { workerCommand } from '../../dev/dev-server';
import { newKeySpec } from '../../platform/payload-codec';

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
    readRatePerSecond: 500,
    apiInstances: 1,
    trustProxy: undefined,
    fanoutSignalsPerSecond: 2000,
    fanoutMaxInFlight: 4,
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
    expect.stringMatching(/^FANOUT_MAX_IN_FLIGHT: .*>=1.*\(worker: most Updates a fan-out page has in flight at once/),
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
    expect.stringMatching(/^API_KEYS: entry 1 does not begin with a role \(case-system, ops, reader\); write role:key/),
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'ops:short' })).toEqual([expect.stringMatching(/^API_KEYS: entry 1 \(ops\): its key is shorter than 16 characters/)]);
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
  expect(() => loadConfig({ ...base, PAYLOAD_KEYS: short })).toThrow('PAYLOAD_KEYS: entry 1: its key must be 32 bytes in base64 (AES-256), not 16');
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

test('an API key may be bound to municipalities (role@101+147:key); an unknown code is named by its place', () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'reader@101+147:0123456789abcdef,ops:fedcba9876543210, case-system@851:0123456789abcdeg' }).apiKeys).toEqual([
    { role: 'reader', key: '0123456789abcdef', municipalities: ['101', '147'] },
    { role: 'ops', key: 'fedcba9876543210' },
    { role: 'case-system', key: '0123456789abcdeg', municipalities: ['851'] },
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'reader@101+999:0123456789abcdef' })).toEqual([
    'API_KEYS: entry 1 (reader) is bound to a code that is not a municipality code (its code 2); write role@101+147:key with codes of the 98 municipalities ' +
      '(API keys of the API, role:key pairs separated by commas (roles case-system, ops, reader); role@101+147:key binds a key to those municipalities)',
  ]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'ops@:0123456789abcdef' })).toEqual([expect.stringMatching(/^API_KEYS: entry 1 \(ops\) is bound to a code that is not a municipality code \(its code 1\)/)]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_KEYS: 'admin@101:0123456789abcdef' })).toEqual([expect.stringMatching(/^API_KEYS: entry 1 does not begin with a role/)]);
});

test('METRICS_KEY puts /metrics behind a key of at least 16 characters', () => {
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', METRICS_KEY: 'metrics-key-0123456' }).metricsKey).toBe('metrics-key-0123456');
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y' }).metricsKey).toBeUndefined();
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', METRICS_KEY: 'short' })).toEqual([expect.stringMatching(/^METRICS_KEY: must be at least 16 characters/)]);
});

test('rates, API instances and the proxies to trust: defaults, values, and errors naming the variable', () => {
  const c = loadConfig({ DATABASE_URL: 'postgres://x/y' });
  expect([c.writeRatePerSecond, c.readRatePerSecond, c.apiInstances, c.trustProxy]).toEqual([100, 500, 1, undefined]);
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', API_TRUST_PROXY: '2' }).trustProxy).toBe(2);
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', API_TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  expect(loadConfig({ DATABASE_URL: 'postgres://x/y', API_INSTANCES: '3', API_READ_RATE_PER_SECOND: '60' })).toMatchObject({ apiInstances: 3, readRatePerSecond: 60 });
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_TRUST_PROXY: 'any proxy at all' })).toEqual([expect.stringMatching(/^API_TRUST_PROXY: must be a hop count, or loopback/)]);
  expect(problemsOf({ DATABASE_URL: 'postgres://x/y', API_INSTANCES: '0' })).toEqual([expect.stringMatching(/^API_INSTANCES: /)]);
});

describe('startup errors name the variable and the entry, never a value', () => {
  const base = { DATABASE_URL: 'postgres://u:p@db:5432/cases' };
  /** What a key looks like: base64url, as `npm run dev` and compose:env make them. */
  const secret = 'Zq8vS3cr3tK3yMat3r1al0fAn4p1Key0x';
  const everything = (env: NodeJS.ProcessEnv) => problemsOf(env).join('\n');

  test('a misordered API_KEYS entry (key:role) names its position, not the key', () => {
    const problems = problemsOf({ ...base, API_KEYS: `reader:0123456789abcdef,${secret}:ops` });
    expect(problems).toEqual([expect.stringMatching(/^API_KEYS: entry 2 does not begin with a role \(case-system, ops, reader\); write role:key/)]);
    expect(problems.join('\n')).not.toContain(secret);
  });

  test('an API_KEYS entry with no role, a short key or an unknown municipality is named by position', () => {
    expect(problemsOf({ ...base, API_KEYS: `${secret}` })).toEqual([expect.stringMatching(/^API_KEYS: entry 1 has no role; write role:key/)]);
    expect(problemsOf({ ...base, API_KEYS: 'ops:0123456789abcdef,reader:short' })).toEqual([expect.stringMatching(/^API_KEYS: entry 2 \(reader\): its key is shorter than 16 characters/)]);
    const bound = problemsOf({ ...base, API_KEYS: `reader@101+${secret}+999:0123456789abcdef` });
    expect(bound).toEqual([expect.stringMatching(/^API_KEYS: entry 1 \(reader\) is bound to codes that are not municipality codes \(its codes 2 and 3\); write role@101\+147:key/)]);
    expect(bound.join('\n')).not.toContain(secret);
  });

  test('PAYLOAD_KEYS and PAYLOAD_KEY_FILE name the entry, never its id or key', () => {
    const key = Buffer.alloc(32, 7).toString('base64url'); // unpadded: it passes for an id when written first
    const misordered = everything({ ...base, PAYLOAD_KEYS: `${key}:k1` });
    expect(misordered).toMatch(/^PAYLOAD_KEYS: entry 1: its key must be 32 bytes in base64 \(AES-256\), not 1 /);
    expect(misordered).not.toContain(key);
    expect(everything({ ...base, PAYLOAD_KEYS: `${newKeySpec('k1')},${newKeySpec('k1')}` })).toMatch(/^PAYLOAD_KEYS: entry 2 has the id of entry 1 /);
    expect(everything({ ...base, PAYLOAD_KEYS: `${newKeySpec('k1')},nocolon` })).toMatch(/^PAYLOAD_KEYS: entry 2 needs an id of letters, digits/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-keys-'));
    writeFileSync(path.join(dir, 'keys'), `${newKeySpec('k2')}\n${key}:k1\n`);
    const fromFile = everything({ ...base, PAYLOAD_KEY_FILE: path.join(dir, 'keys') });
    expect(fromFile).toMatch(/^PAYLOAD_KEY_FILE: entry 2: its key must be 32 bytes/);
    expect(fromFile).not.toContain(key);
    rmSync(dir, { recursive: true });
  });

  test('CODEC_CORS_ORIGINS names the entry that is not an origin', () => {
    const problems = problemsOf({ ...base, CODEC_CORS_ORIGINS: `http://ui:8080,http://${secret}/path` });
    expect(problems).toEqual([expect.stringMatching(/^CODEC_CORS_ORIGINS: entry 2 is not an origin \(scheme:\/\/host\[:port\], no path\)/)]);
    expect(problems.join('\n')).not.toContain(secret);
  });

  test('whatever is wrong with any variable, the error never repeats what it was set to', () => {
    const names = Object.keys(ENVIRONMENT_VARIABLES);
    for (const value of [secret, `${secret}:${secret}`, `${secret}@${secret}:${secret}`, `http://${secret}/${secret}`, `-${secret}`]) {
      const problems = problemsOf(Object.fromEntries(names.map((name) => [name, value])));
      expect(problems.length).toBeGreaterThan(5);
      expect(problems.join('\n')).not.toContain(secret);
    }
  });
});
