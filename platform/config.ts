import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isMunicipality } from '../workflows/domain/municipalities';
import { type Keyring, parseKeyring } from './payload-codec';

/**
 * Every setting of the worker and API processes, read once from the environment, validated and typed.
 * docker-compose.yml and the README's configuration table use exactly these names (a test checks it).
 */
/** Threads that run workflow code in the worker unless WORKER_WORKFLOW_THREADS says otherwise (see worker/worker.ts). */
export const DEFAULT_WORKFLOW_THREADS = 2;
/**
 * See FANOUT_MAX_IN_FLIGHT. A case system's event waits behind about this many Updates during a fan-out, so it sets
 * the event's latency against the fan-out's rate: the default is the largest window with which an event's p99
 * stayed within twice its idle p99 on both the dev server and the cluster (bench:national; docs/capacity.md, After
 * issue #21). A policy that must arrive sooner can raise it and accept slower events.
 */
export const DEFAULT_FANOUT_MAX_IN_FLIGHT = 4;

export const ENVIRONMENT_VARIABLES = {
  TEMPORAL_ADDRESS: 'host:port of the Temporal frontend',
  TEMPORAL_NAMESPACE: 'Temporal namespace the cases live in',
  TEMPORAL_TASK_QUEUE: 'task queue the worker polls and the API starts cases on',
  TEMPORAL_API_KEY: 'API key for a hosted Temporal (implies TLS)',
  TEMPORAL_TLS: 'true to use TLS with the system CAs',
  TEMPORAL_TLS_CERT_PATH: 'client certificate (PEM) for mTLS',
  TEMPORAL_TLS_KEY_PATH: 'client private key (PEM) for mTLS',
  TEMPORAL_TLS_CA_PATH: 'CA bundle (PEM) that signed the server certificate',
  TEMPORAL_TLS_SERVER_NAME: 'server name to verify, when it differs from the address host',
  TEMPORAL_UI_URL: 'base URL of the Temporal Web UI, for links to a case',
  DATABASE_URL: 'Postgres connection string',
  PORT: 'port the API listens on',
  API_PUBLIC_URL: "the API's address as caseworkers' browsers reach it, for the link from a case's details to its caseworker page",
  API_KEYS: 'API keys of the API, role:key pairs separated by commas (roles case-system, ops, reader); role@101+147:key binds a key to those municipalities',
  METRICS_KEY: 'when set, /metrics answers only requests with Authorization: Bearer <METRICS_KEY>; open when unset',
  PAYLOAD_KEYS: 'keys that encrypt what the engine hands to Temporal: id:base64 pairs (32 bytes each) separated by commas, the first encrypting, the others still decrypting',
  PAYLOAD_KEY_FILE: 'a file holding the payload keys in the PAYLOAD_KEYS form (one pair a line or comma-separated), instead of PAYLOAD_KEYS',
  CODEC_CORS_ORIGINS: "origins (scheme://host:port, comma-separated) of the Temporal UIs whose browsers may call the codec server; the origin of TEMPORAL_UI_URL when unset",
  API_WRITE_RATE_PER_SECOND: 'writes a second allowed per API key, in all API instances (bursts up to twice that)',
  API_READ_RATE_PER_SECOND: 'reads (GET) a second allowed per API key, in all API instances (bursts up to twice that)',
  API_INSTANCES: 'how many API processes share one address; each allows its share of the rates',
  API_TRUST_PROXY: "Express' trust proxy (loopback, a subnet, or a hop count): the proxies whose X-Forwarded-* headers are believed; unset, none",
  FANOUT_SIGNALS_PER_SECOND: 'upper bound on the rate a policy fan-out signals cases',
  FANOUT_MAX_IN_FLIGHT: 'worker: most Updates a fan-out page has in flight at once (a case event waits behind about these)',
  FANOUT_VISIBILITY_LAG_MS: 'how long visibility may take to show a change; a fan-out ends on a count taken at least this long after its last signal',
  LOG_LEVEL: 'debug | info | warn | error',
  WORKER_METRICS_PORT: "port of the worker's Prometheus endpoint (Temporal SDK metrics); off when unset",
  WORKER_MEMORY_MB: "the worker's memory budget in MB, which sizes the cases it keeps in memory between their tasks and bounds its workflow threads' heaps; as many as fit node's heap when unset",
  WORKER_MAX_CACHED_WORKFLOWS: 'cases the worker keeps in memory between their tasks, as a count instead of WORKER_MEMORY_MB',
  WORKER_WORKFLOW_THREADS: 'threads that run workflow code in the worker (1-16, default 2)',
  WORKER_WORKFLOW_STACK_TRACES: "on | off (default): the SDK's stack traces of running cases (the UI's Stack Trace tab), a third of a replay's CPU",
} as const;

export type EnvironmentVariable = keyof typeof ENVIRONMENT_VARIABLES;

const hostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233');
const boolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const existingFile = z.string().refine((p) => {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}, 'must name a readable file');

const schema = z
  .object({
    TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('sickness-benefit-cases'),
    TEMPORAL_API_KEY: z.string().min(1).optional(),
    TEMPORAL_TLS: boolean.default(false),
    TEMPORAL_TLS_CERT_PATH: existingFile.optional(),
    TEMPORAL_TLS_KEY_PATH: existingFile.optional(),
    TEMPORAL_TLS_CA_PATH: existingFile.optional(),
    TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
    TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).default('http://localhost:8233'),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// connection string'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    API_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    API_KEYS: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        try {
          if (value) parseApiKeys(value);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^API_KEYS: /, '') });
        }
      }),
    METRICS_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    PAYLOAD_KEYS: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        for (const message of value ? keyringProblems(value) : []) ctx.addIssue({ code: 'custom', message });
      }),
    PAYLOAD_KEY_FILE: existingFile.optional().superRefine((file, ctx) => {
      let text: string;
      try {
        if (!file) return;
        text = readKeyFile(file);
      } catch {
        return; // existingFile says so
      }
      for (const message of keyringProblems(text)) ctx.addIssue({ code: 'custom', message });
    }),
    CODEC_CORS_ORIGINS: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        (value ?? '').split(',').map((o) => o.trim()).forEach((origin, i) => {
          if (origin && !/^https?:\/\/[^/\s]+$/.test(origin)) ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not an origin (scheme://host[:port], no path)` });
        });
      }),
    API_WRITE_RATE_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(100),
    API_READ_RATE_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(500),
    API_INSTANCES: z.coerce.number().int().min(1).max(1_000).default(1),
    // A hop count, or names and addresses as Express takes them (loopback, linklocal, uniquelocal, CIDR).
    API_TRUST_PROXY: z
      .string()
      .regex(/^(\d{1,2}|[\w.:/]+(,\s*[\w.:/]+)*)$/, 'must be a hop count, or loopback, linklocal, uniquelocal, addresses or subnets separated by commas')
      .optional(),
    FANOUT_SIGNALS_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(2_000),
    FANOUT_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_FANOUT_MAX_IN_FLIGHT),
    FANOUT_VISIBILITY_LAG_MS: z.coerce.number().int().min(100).max(600_000).default(3_000),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    WORKER_MEMORY_MB: z.coerce
      .number({ error: 'must be a whole number of megabytes' })
      .int('must be a whole number of megabytes')
      .min(1024, 'must be at least 1024 megabytes')
      .max(1_048_576, 'must be at most 1048576 megabytes')
      .optional(),
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(2).max(1_000_000).optional(),
    WORKER_WORKFLOW_THREADS: z.coerce.number().int().min(1).max(16).default(DEFAULT_WORKFLOW_THREADS),
    WORKER_WORKFLOW_STACK_TRACES: z.enum(['on', 'off']).default('off'),
  })
  .refine((c) => Boolean(c.TEMPORAL_TLS_CERT_PATH) === Boolean(c.TEMPORAL_TLS_KEY_PATH), {
    message: 'TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together',
    path: ['TEMPORAL_TLS_CERT_PATH'],
  })
  .refine((c) => !(c.PAYLOAD_KEYS && c.PAYLOAD_KEY_FILE), {
    message: 'set PAYLOAD_KEYS or PAYLOAD_KEY_FILE, not both',
    path: ['PAYLOAD_KEYS'],
  })
  // Two sizes for one cache: which one meant is a guess, so neither is taken.
  .refine((c) => !(c.WORKER_MEMORY_MB !== undefined && c.WORKER_MAX_CACHED_WORKFLOWS !== undefined), {
    message: 'set WORKER_MEMORY_MB or WORKER_MAX_CACHED_WORKFLOWS, not both',
    path: ['WORKER_MEMORY_MB'],
  });

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  apiKey?: string;
  tls?: { serverName?: string; ca?: Buffer; clientCert?: { crt: Buffer; key: Buffer } };
  uiUrl: string;
}

export const ROLES = ['case-system', 'ops', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKey {
  role: Role;
  key: string;
  /** The municipality codes the key is bound to (it sees and acts on their cases only); undefined: national. */
  municipalities?: readonly string[];
}

/** "2", "2 and 3", "1, 2 and 4": positions, counted from 1. */
const positions = (indexes: number[]) => {
  const numbers = indexes.map((i) => String(i + 1));
  return numbers.length === 1 ? numbers[0]! : `${numbers.slice(0, -1).join(', ')} and ${numbers.at(-1)}`;
};

/**
 * Parses API_KEYS: `role:key,role@101+147:key`; each key at least 16 characters. `@` binds the key to the
 * municipalities listed (codes of workflows/domain/municipalities.ts, joined by `+`); without it the key is national.
 * An error names the entry by its position and the problem, never what it holds: a key written before its role
 * would otherwise be printed where the role is expected.
 */
export function parseApiKeys(value: string): ApiKey[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const n = i + 1;
      const at = entry.indexOf(':');
      if (at < 1) throw new Error(`API_KEYS: entry ${n} has no role; write role:key or role@101+147:key (roles ${ROLES.join(', ')})`);
      const [role, bound] = entry.slice(0, at).split('@', 2) as [Role, string | undefined];
      const key = entry.slice(at + 1);
      if (!ROLES.includes(role)) throw new Error(`API_KEYS: entry ${n} does not begin with a role (${ROLES.join(', ')}); write role:key`);
      if (key.length < 16) throw new Error(`API_KEYS: entry ${n} (${role}): its key is shorter than 16 characters`);
      if (bound === undefined) return { role, key };
      const municipalities = bound.split('+');
      const unknown = municipalities.flatMap((code, j) => (isMunicipality(code) ? [] : [j]));
      if (unknown.length > 0) {
        const which = unknown.length === 1 ? `a code that is not a municipality code (its code ${positions(unknown)})` : `codes that are not municipality codes (its codes ${positions(unknown)})`;
        throw new Error(`API_KEYS: entry ${n} (${role}) is bound to ${which}; write role@101+147:key with codes of the 98 municipalities`);
      }
      return { role, key, municipalities: [...new Set(municipalities)] };
    });
}

/** A key file's pairs in the PAYLOAD_KEYS form (one a line, or comma-separated). */
const readKeyFile = (file: string) => readFileSync(file, 'utf8').replace(/\s+/g, ',');

/**
 * What is wrong with a keyring's text (`id:base64key` pairs, comma-separated), each problem naming the entry by
 * its position. The checks of parseKeyring (platform/payload-codec.ts), whose errors name a key's id: written
 * before its id, a key would be printed as one.
 */
function keyringProblems(spec: string): string[] {
  const entries = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) return ['holds no key: give id:base64key pairs, the first being the current key'];
  const problems: string[] = [];
  const firstWithId = new Map<string, number>();
  entries.forEach((entry, i) => {
    const at = entry.indexOf(':');
    const id = at > 0 ? entry.slice(0, at) : '';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
      problems.push(`entry ${i + 1} needs an id of letters, digits, '.', '_' or '-' before ':'`);
      return;
    }
    const bytes = Buffer.from(entry.slice(at + 1), 'base64').length;
    if (bytes !== 32) problems.push(`entry ${i + 1}: its key must be 32 bytes in base64 (AES-256), not ${bytes}`);
    const first = firstWithId.get(id);
    if (first !== undefined) problems.push(`entry ${i + 1} has the id of entry ${first + 1}`);
    else firstWithId.set(id, i);
  });
  if (problems.length > 0) return problems;
  try {
    parseKeyring(spec);
    return [];
  } catch {
    return ['is not a keyring: give id:base64key pairs (32 bytes each), the first being the current key'];
  }
}

export interface Config {
  temporal: TemporalSettings;
  databaseUrl: string;
  port: number;
  /** Base of the links to the caseworker pages (API_PUBLIC_URL; http://localhost:<PORT> when unset), without a trailing slash. */
  apiPublicUrl: string;
  /**
   * The keys that encrypt payloads (PAYLOAD_KEYS or PAYLOAD_KEY_FILE); undefined when neither is set, and
   * then the worker and the API refuse to start (payloads are never written in clear).
   */
  payloadKeyring?: Keyring;
  /** Browser origins allowed to call the codec server (CODEC_CORS_ORIGINS; the Temporal UI's origin by default). */
  codecCorsOrigins: string[];
  /** Empty when API_KEYS is unset: the API refuses to start then (nothing is open by default). */
  apiKeys: ApiKey[];
  /** When set, /metrics needs `Authorization: Bearer <metricsKey>` (METRICS_KEY). */
  metricsKey?: string;
  writeRatePerSecond: number;
  readRatePerSecond: number;
  apiInstances: number;
  /** API_TRUST_PROXY: a hop count, or what Express' `trust proxy` takes; undefined trusts none. */
  trustProxy?: string | number;
  fanoutSignalsPerSecond: number;
  fanoutMaxInFlight: number;
  fanoutVisibilityLagMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  workerMetricsPort?: number;
  /** The worker's memory budget in MB (WORKER_MEMORY_MB), which sizes its cache and its workflow threads' heaps: caseCacheSize in worker/worker.ts. */
  workerMemoryMb?: number;
  /** The worker's cache as a count (WORKER_MAX_CACHED_WORKFLOWS); never set together with workerMemoryMb. */
  workerMaxCachedWorkflows?: number;
  workerWorkflowThreads: number;
  /** The SDK's workflow stack traces (WORKER_WORKFLOW_STACK_TRACES; off unless on): see worker/worker.ts. */
  workerWorkflowStackTraces: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(
    Object.keys(ENVIRONMENT_VARIABLES).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        const value = raw[name];
        const hint = name in ENVIRONMENT_VARIABLES ? ` (${ENVIRONMENT_VARIABLES[name as EnvironmentVariable]})` : '';
        return value === undefined && issue.code === 'invalid_type'
          ? `${name} is required${hint}`
          : `${name}: ${issue.message}${hint}`;
      }),
    );
  }
  const c = parsed.data;
  const wantsTls = c.TEMPORAL_TLS || Boolean(c.TEMPORAL_API_KEY || c.TEMPORAL_TLS_CERT_PATH || c.TEMPORAL_TLS_CA_PATH);
  return {
    temporal: {
      address: c.TEMPORAL_ADDRESS,
      namespace: c.TEMPORAL_NAMESPACE,
      taskQueue: c.TEMPORAL_TASK_QUEUE,
      apiKey: c.TEMPORAL_API_KEY,
      tls: wantsTls
        ? {
            serverName: c.TEMPORAL_TLS_SERVER_NAME,
            ca: c.TEMPORAL_TLS_CA_PATH ? readFileSync(c.TEMPORAL_TLS_CA_PATH) : undefined,
            clientCert:
              c.TEMPORAL_TLS_CERT_PATH && c.TEMPORAL_TLS_KEY_PATH
                ? { crt: readFileSync(c.TEMPORAL_TLS_CERT_PATH), key: readFileSync(c.TEMPORAL_TLS_KEY_PATH) }
                : undefined,
          }
        : undefined,
      uiUrl: c.TEMPORAL_UI_URL.replace(/\/$/, ''),
    },
    databaseUrl: c.DATABASE_URL,
    port: c.PORT,
    apiPublicUrl: (c.API_PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
    apiKeys: c.API_KEYS ? parseApiKeys(c.API_KEYS) : [],
    metricsKey: c.METRICS_KEY,
    payloadKeyring: c.PAYLOAD_KEYS
      ? parseKeyring(c.PAYLOAD_KEYS, 'PAYLOAD_KEYS')
      : c.PAYLOAD_KEY_FILE
        ? parseKeyring(readKeyFile(c.PAYLOAD_KEY_FILE), 'PAYLOAD_KEY_FILE')
        : undefined,
    codecCorsOrigins: c.CODEC_CORS_ORIGINS
      ? c.CODEC_CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)
      : [new URL(c.TEMPORAL_UI_URL).origin],
    writeRatePerSecond: c.API_WRITE_RATE_PER_SECOND,
    readRatePerSecond: c.API_READ_RATE_PER_SECOND,
    apiInstances: c.API_INSTANCES,
    trustProxy: c.API_TRUST_PROXY === undefined ? undefined : /^\d+$/.test(c.API_TRUST_PROXY) ? Number(c.API_TRUST_PROXY) : c.API_TRUST_PROXY,
    fanoutSignalsPerSecond: c.FANOUT_SIGNALS_PER_SECOND,
    fanoutMaxInFlight: c.FANOUT_MAX_IN_FLIGHT,
    fanoutVisibilityLagMs: c.FANOUT_VISIBILITY_LAG_MS,
    logLevel: c.LOG_LEVEL,
    workerMetricsPort: c.WORKER_METRICS_PORT,
    workerMemoryMb: c.WORKER_MEMORY_MB,
    workerMaxCachedWorkflows: c.WORKER_MAX_CACHED_WORKFLOWS,
    workerWorkflowThreads: c.WORKER_WORKFLOW_THREADS,
    workerWorkflowStackTraces: c.WORKER_WORKFLOW_STACK_TRACES === 'on',
  };
}

/**
 * The payload keyring a worker or API process must have: without one it stops with a message saying how
 * to give one (and exit status 78), since it would otherwise write health data in clear into Temporal.
 */
export function requirePayloadKeyring(config: Config, role: string): Keyring {
  if (config.payloadKeyring) return config.payloadKeyring;
  process.stderr.write(
    `${role}: PAYLOAD_KEYS or PAYLOAD_KEY_FILE is required: every payload handed to Temporal is encrypted (AES-256-GCM). ` +
      'Make a key with `node -e "console.log(\'k1:\'+require(\'crypto\').randomBytes(32).toString(\'base64\'))"` ' +
      '(README: Payload encryption); `npm run dev` keeps one in its data folder.\n',
  );
  process.exit(78);
}

/** For process entry points: load the config or print the problems and exit with status 78 (EX_CONFIG). */
export function loadConfigOrExit(role: string, env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${role}: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}
