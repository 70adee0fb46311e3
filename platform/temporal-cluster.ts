import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { Client as PgClient } from 'pg';
import { stringify } from 'yaml';
import { CASE_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { DEV_SERVER_DYNAMIC_CONFIG, devServerGoEnv } from './dev-server';
import { freePort, freeSmallintPort } from './ports';
import { TEMPORAL_TLS_SERVER_NAME, type TemporalTlsFiles, temporalTlsFiles, temporalTlsOptions } from './tls-certificates';

/**
 * The production topology on one machine, without Docker: the Temporal server (go.temporal.io/server, built
 * by scripts/lib/tools.sh) with its persistence and SQL visibility in Postgres, its namespace and the case
 * search attributes created through the API as production creates them, and the standalone Web UI server.
 * Used by `npm run dev -- --cluster` (scripts/local-stack.ts) and the cluster tests (test/support/processes.ts).
 * docker-compose.yml runs the same versions, schema steps, dynamic config and server config, its frontend behind the
 * same mutual TLS (composeServerConfigYaml; test/unit/compose.test.ts).
 */

/** The versions scripts/lib/tools.sh builds (TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_UI_VERSION = '2.42.1';

/** Where the tools are: scripts/tools.sh cluster prints these. */
export interface ClusterTools {
  server: string;
  sqlTool: string;
  /** The module's schema/postgresql/v12 folder. */
  schemaDir: string;
  uiServer: string;
}

export function clusterToolsFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterTools | undefined {
  const { TEMPORAL_SERVER_PATH: server, TEMPORAL_SQL_TOOL_PATH: sqlTool, TEMPORAL_SCHEMA_DIR: schemaDir, TEMPORAL_UI_SERVER_PATH: uiServer } = env;
  return server && sqlTool && schemaDir && uiServer ? { server, sqlTool, schemaDir, uiServer } : undefined;
}

/** The two databases of a Temporal cluster on SQL: its persistence and its (SQL) visibility. */
export const TEMPORAL_DATABASES = { persistence: 'temporal', visibility: 'temporal_visibility' } as const;

/**
 * The cluster's dynamic config file: the dev server's values (platform/dev-server.ts), so both topologies run
 * with the same settings. docker-compose.yml mounts platform/temporal-dynamic-config.yaml, which holds this text.
 */
export function clusterDynamicConfigYaml(): string {
  const entries = Object.entries(DEV_SERVER_DYNAMIC_CONFIG).map(([key, value]) => [key, [{ value, constraints: {} }]]);
  return (
    "# The Temporal cluster's dynamic config: the dev server's values (platform/dev-server.ts DEV_SERVER_DYNAMIC_CONFIG),\n" +
    '# written by clusterDynamicConfigYaml (platform/temporal-cluster.ts) for npm run dev -- --cluster and the tests, and\n' +
    '# mounted by docker-compose.yml from platform/temporal-dynamic-config.yaml; test/unit/compose.test.ts keeps them equal.\n' +
    stringify(Object.fromEntries(entries))
  );
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The ports one Temporal server process listens on: gRPC and membership of each of its four services, HTTP of the frontend. */
export interface ClusterPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  frontendMembership: number;
  historyMembership: number;
  matchingMembership: number;
  workerMembership: number;
}

/**
 * Free ports for a server the tests or a benchmark start next to others (`frontend` if given, else one is
 * chosen): membership ports below 32768, as the server stores them as smallints; the others any.
 */
export async function freeClusterPorts(frontend?: number): Promise<ClusterPorts> {
  return {
    frontend: frontend ?? (await freeSmallintPort()),
    frontendHttp: await freePort(),
    history: await freePort(),
    matching: await freePort(),
    worker: await freePort(),
    frontendMembership: await freeSmallintPort(),
    historyMembership: await freeSmallintPort(),
    matchingMembership: await freeSmallintPort(),
    workerMembership: await freeSmallintPort(),
  };
}

/** The ports next to a frontend port: the other services +1 to +3, HTTP +10, membership +100 to +103 (7233: 7234-7236, 7243, 7333-7336). */
export function clusterPortsFrom(frontend: number): ClusterPorts {
  // The server stores membership ports in Postgres as smallints (cluster_membership.rpc_port).
  if (!Number.isInteger(frontend) || frontend < 1024 || frontend + 103 > 32_767) {
    throw new Error(`TEMPORAL_PORT ${frontend} does not suit the cluster: its ports run to TEMPORAL_PORT+103, and the server stores them as smallints (at most 32767); choose one from 1024 to 32664`);
  }
  return {
    frontend,
    history: frontend + 1,
    matching: frontend + 2,
    worker: frontend + 3,
    frontendHttp: frontend + 10,
    frontendMembership: frontend + 100,
    historyMembership: frontend + 101,
    matchingMembership: frontend + 102,
    workerMembership: frontend + 103,
  };
}

/**
 * The server's static config (the shape of the module's config/development-postgres12.yaml): Postgres 12+
 * persistence and SQL visibility, all four services in one process on 127.0.0.1. Four history shards: the
 * count is fixed for a cluster's life; production sizes it (docs/capacity.md), a local cluster needs few.
 */
export function clusterServerConfigYaml(options: {
  ports: ClusterPorts;
  postgres: PostgresEndpoint;
  dynamicConfigFile: string;
  numHistoryShards?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Mutual TLS on the frontend (platform/tls-certificates.ts); without it the frontend speaks plain gRPC. */
  tls?: TemporalTlsFiles;
  /** Where the frontend listens (127.0.0.1 unless given); the other services and membership stay on 127.0.0.1. */
  frontendBindOnIP?: string;
}): string {
  const { ports, postgres, tls } = options;
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1', ...extra },
  });
  // The frontend asks every client for a certificate the CA signed (requireClientAuth), the server's own system
  // worker included. History, matching and the worker service talk to each other inside the one process, on
  // 127.0.0.1, and stay without TLS: nothing outside the machine or container reaches them.
  const serverTls = tls && {
    frontend: {
      server: { certFile: tls.serverCert, keyFile: tls.serverKey, clientCaFiles: [tls.ca], requireClientAuth: true },
      client: { serverName: TEMPORAL_TLS_SERVER_NAME, rootCaFiles: [tls.ca] },
    },
    systemWorker: {
      certFile: tls.clientCert,
      keyFile: tls.clientKey,
      client: { serverName: TEMPORAL_TLS_SERVER_NAME, rootCaFiles: [tls.ca] },
    },
  };
  return stringify({
    log: { stdout: true, level: options.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.numHistoryShards ?? 4,
      datastores: {
        'postgres-default': store(TEMPORAL_DATABASES.persistence, 20),
        'postgres-visibility': store(TEMPORAL_DATABASES.visibility, 10),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, ...(serverTls ? { tls: serverTls } : {}) },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, { httpPort: ports.frontendHttp, ...(options.frontendBindOnIP ? { bindOnIP: options.frontendBindOnIP } : {}) }),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: options.dynamicConfigFile, pollInterval: '10s' },
  });
}

/** Where docker-compose.yml mounts the certificates volume (platform/tls-certificates.ts files) in every container that uses it. */
export const COMPOSE_TLS_DIR = '/etc/temporal-tls';

/**
 * docker-compose.yml's Temporal server config, mounted from platform/temporal-server-compose.yaml (which holds this
 * text; test/unit/compose.test.ts keeps them equal): the config of the cluster topology, the same function, with
 * compose's hosts and paths. The frontend listens on every interface of its container, for the worker, API and UI
 * containers; the other services on the container's loopback. The server renders the file as a template (its
 * first line), so the database password comes from the container's POSTGRES_PASSWORD, which .env gives.
 */
export function composeServerConfigYaml(): string {
  return (
    '# enable-template: rendered by the Temporal server at start (the password from POSTGRES_PASSWORD).\n' +
    '# docker-compose.yml\'s Temporal server config, written by composeServerConfigYaml (platform/temporal-cluster.ts);\n' +
    '# test/unit/compose.test.ts keeps this file equal to it.\n' +
    clusterServerConfigYaml({
      ports: clusterPortsFrom(7233),
      postgres: { host: 'postgres', port: 5432, user: 'postgres', password: '{{ env "POSTGRES_PASSWORD" }}' },
      dynamicConfigFile: '/etc/temporal/config/dynamicconfig/sygedagpenge.yaml',
      tls: temporalTlsFiles(COMPOSE_TLS_DIR),
      frontendBindOnIP: '0.0.0.0',
    })
  );
}

/**
 * The schema tool's steps for one database, as arguments after its connection flags: create the database,
 * create the version table (`setup-schema -v 0.0`), and apply every versioned step not yet applied. The same
 * steps as Temporal's auto-setup image; docker-compose.yml runs these (test/unit/compose.test.ts).
 */
export function schemaToolSteps(kind: keyof typeof TEMPORAL_DATABASES, schemaDir: string): string[][] {
  const db = TEMPORAL_DATABASES[kind];
  const versioned = path.join(schemaDir, kind === 'persistence' ? 'temporal' : 'visibility', 'versioned');
  return [
    ['--db', db, 'create-database'],
    ['--db', db, 'setup-schema', '-v', '0.0'],
    ['--db', db, 'update-schema', '-d', versioned],
  ];
}

function sqlToolConnectionArgs(postgres: PostgresEndpoint): string[] {
  return ['--plugin', 'postgres12', '--ep', postgres.host, '-p', String(postgres.port), '-u', postgres.user, '--pw', postgres.password];
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${path.basename(command)} ${args.filter((a, i) => args[i - 1] !== '--pw').join(' ')} failed (exit ${code}):\n${output.slice(-3000)}`))));
  });
}

/**
 * Creates the two databases where missing and brings their schemas to the version the tool's folder holds
 * (nothing to do on a later start). Returns what it did, for the caller to say.
 */
export async function setupTemporalSchemas(tools: Pick<ClusterTools, 'sqlTool' | 'schemaDir'>, postgres: PostgresEndpoint): Promise<string[]> {
  const admin = new PgClient({ host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password, database: 'postgres' });
  await admin.connect();
  const existing = new Set(
    (await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [Object.values(TEMPORAL_DATABASES)])).rows.map((r) => r.datname),
  );
  await admin.end();
  const done: string[] = [];
  for (const kind of ['persistence', 'visibility'] as const) {
    const steps = schemaToolSteps(kind, tools.schemaDir);
    // create-database is not idempotent (CREATE DATABASE); the schema steps are.
    for (const step of existing.has(TEMPORAL_DATABASES[kind]) ? steps.slice(1) : steps) {
      await run(tools.sqlTool, [...sqlToolConnectionArgs(postgres), ...step]);
    }
    done.push(`${TEMPORAL_DATABASES[kind]}${existing.has(TEMPORAL_DATABASES[kind]) ? ' (schema checked)' : ' (created)'}`);
  }
  return done;
}

const indexed = temporal.api.enums.v1.IndexedValueType;
const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: indexed.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: indexed.INDEXED_VALUE_TYPE_TEXT,
  DATETIME: indexed.INDEXED_VALUE_TYPE_DATETIME,
  BOOL: indexed.INDEXED_VALUE_TYPE_BOOL,
  KEYWORD_LIST: indexed.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  INT: indexed.INDEXED_VALUE_TYPE_INT,
  DOUBLE: indexed.INDEXED_VALUE_TYPE_DOUBLE,
};

/** The case search attributes (workflows/search-attributes.ts) as the operator API takes them. */
export function caseSearchAttributeTypes(): Record<string, temporal.api.enums.v1.IndexedValueType> {
  return Object.fromEntries(CASE_SEARCH_ATTRIBUTES.map((key) => [key.name, INDEXED_TYPES[key.type]!]));
}

/** How long the cases' history is kept after a case closes, in a namespace this module creates. */
export const NAMESPACE_RETENTION_DAYS = 30;

/**
 * The namespace and the case search attributes, through the API as production creates them (the frontend
 * answers once the server is up; the namespace then reaches every service's namespace cache within its
 * refresh interval, 2 s). Idempotent: an existing namespace and attributes of the same type are left as they are.
 */
export async function prepareNamespace(connection: Connection, namespace: string): Promise<{ namespaceCreated: boolean; attributesAdded: string[] }> {
  let namespaceCreated = false;
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_DAYS} days`) });
    namespaceCreated = true;
  } catch (err) {
    if ((err as { code?: number }).code !== 6) throw err; // ALREADY_EXISTS
  }
  const wanted = caseSearchAttributeTypes();
  // A namespace just created is not yet in the frontend's cache: the operator API answers NotFound until it is.
  const existing = await retry(async () => (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {}, 'list search attributes', 30_000);
  const wrongType = Object.entries(wanted).filter(([name, type]) => name in existing && existing[name] !== type);
  if (wrongType.length > 0) {
    throw new Error(`namespace ${namespace} has search attributes of another type: ${wrongType.map(([n]) => `${n} is ${indexed[existing[n]!]}, not ${indexed[wanted[n]!]}`).join('; ')}`);
  }
  const missing = Object.fromEntries(Object.entries(wanted).filter(([name]) => !(name in existing)));
  if (Object.keys(missing).length > 0) {
    await retry(() => connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing }), 'add search attributes', 30_000);
  }
  // Usable once visibility's query converter knows every one of them (the namespace cache refreshed).
  const probe = Object.keys(wanted).map((name) => `${name} IS NULL`).join(' AND ');
  await retry(() => connection.workflowService.countWorkflowExecutions({ namespace, query: probe }), 'query by the case search attributes', 30_000);
  return { namespaceCreated, attributesAdded: Object.keys(missing) };
}

async function retry<T>(attempt: () => Promise<T>, what: string, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${withinMs / 1000} s: ${String(err)}`);
      await delay(250);
    }
  }
}

/** How a process of the engine's own tooling connects to a cluster: its address, and its certificates when the frontend asks for them. */
export function clusterConnectionOptions(address: string, tls?: TemporalTlsFiles): { address: string; tls?: ReturnType<typeof temporalTlsOptions> } {
  return tls ? { address, tls: temporalTlsOptions(tls) } : { address };
}

/** Waits until the frontend answers; rejects early when the process has exited. */
export async function waitForFrontend(address: string, child: ChildProcess | undefined, withinMs = 60_000, log?: () => string, tls?: TemporalTlsFiles): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the Temporal server exited during start-up (${child.signalCode ?? child.exitCode})${log ? `:\n${log()}` : ''}`);
    }
    try {
      const connection = await Connection.connect({ ...clusterConnectionOptions(address, tls), connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal did not answer on ${address} within ${withinMs / 1000} s: ${String(err)}`);
      await delay(250);
    }
  }
}

/**
 * Writes the server's config and dynamic config into `dir` (config/development.yaml, dynamic-config.yaml)
 * and returns how to start it: `temporal-server --root <dir> --config config --env development start`.
 */
export function writeServerConfig(
  dir: string,
  options: { ports: ClusterPorts; postgres: PostgresEndpoint; logLevel?: 'debug' | 'info' | 'warn' | 'error'; tls?: TemporalTlsFiles },
): { args: string[] } {
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  const dynamicConfigFile = path.join(dir, 'dynamic-config.yaml');
  writeFileSync(dynamicConfigFile, clusterDynamicConfigYaml());
  const configFile = path.join(dir, 'config', 'development.yaml');
  writeFileSync(configFile, clusterServerConfigYaml({ ...options, dynamicConfigFile }), { mode: 0o600 });
  chmodSync(configFile, 0o600); // it holds the database password, whatever mode an earlier file had
  // No authorizer: with `tls`, only a client holding a certificate of the cluster's CA gets in, and every holder
  // is the engine's own (platform/tls-certificates.ts); without it (the benchmarks) the cluster listens on 127.0.0.1 only.
  return { args: ['--root', dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'] };
}

/** The Temporal server process, with the Go runtime settings of the dev server (platform/dev-server.ts). */
export function spawnTemporalServer(tools: Pick<ClusterTools, 'server'>, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(tools.server, args, { env: { ...env, ...devServerGoEnv(env) }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The standalone Web UI's config (ui-server config/development.yaml): the cluster's frontend, and the codec
 * server that decodes the encrypted payloads in the browser, called with the browser's credentials (the
 * API's /codec session cookie).
 */
export function writeUiServerConfig(
  dir: string,
  options: { port: number; temporalAddress: string; codecEndpoint: string; namespace: string; tls?: TemporalTlsFiles },
): { args: string[] } {
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  const origin = `http://localhost:${options.port}`;
  const { tls } = options;
  writeFileSync(
    path.join(dir, 'config', 'development.yaml'),
    stringify({
      temporalGrpcAddress: options.temporalAddress,
      // The UI server presents the client certificate and verifies the frontend's (without enableHostVerification it would not).
      ...(tls
        ? { tls: { caFile: tls.ca, certFile: tls.clientCert, keyFile: tls.clientKey, serverName: TEMPORAL_TLS_SERVER_NAME, enableHostVerification: true } }
        : {}),
      host: '127.0.0.1',
      port: options.port,
      enableUi: true,
      // The UI holds the client certificate and has no sign-in of its own: it reads, and changes nothing
      // (terminate, reset, signal and start go through the API or an operator's own certificate).
      disableWriteActions: true,
      defaultNamespace: options.namespace,
      refreshInterval: '1m',
      notifyOnNewVersion: false,
      cors: { allowOrigins: [origin, `http://127.0.0.1:${options.port}`], cookieInsecure: true },
      codec: { endpoint: options.codecEndpoint, includeCredentials: true, passAccessToken: false },
      forwardHeaders: ['X-Forwarded-For'],
      // Its own request log would interleave every page load with the engine's logs.
      hideLogs: true,
    }),
  );
  return { args: ['--root', dir, '--config', 'config', '--env', 'development', 'start'] };
}
