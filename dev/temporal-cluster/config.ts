import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { TEMPORAL_TLS_SERVER_NAME, type TemporalTlsFiles, temporalTlsFiles } from '../../platform/tls-certificates';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../dev-server';
import { freePort, freeSmallintPort } from '../ports';

/**
 * The Temporal server's and the Web UI server's config files, written from code: for the cluster topology into
 * its data folder, and for docker-compose.yml the files in deploy/ (test/unit/compose.test.ts keeps those equal).
 */

/** The two databases of a Temporal cluster on SQL: its persistence and its (SQL) visibility. */
export const TEMPORAL_DATABASES = { persistence: 'temporal', visibility: 'temporal_visibility' } as const;

/**
 * The cluster's dynamic config file: the dev server's values (dev/dev-server.ts), so both topologies run
 * with the same settings. docker-compose.yml mounts deploy/temporal-dynamic-config.yaml, which holds this text.
 */
export function clusterDynamicConfigYaml(): string {
  const entries = Object.entries(DEV_SERVER_DYNAMIC_CONFIG).map(([key, value]) => [key, [{ value, constraints: {} }]]);
  return (
    "# The Temporal cluster's dynamic config: the dev server's values (dev/dev-server.ts DEV_SERVER_DYNAMIC_CONFIG),\n" +
    '# written by clusterDynamicConfigYaml (dev/temporal-cluster/config.ts) for npm run dev -- --cluster and the tests, and\n' +
    '# mounted by docker-compose.yml from deploy/temporal-dynamic-config.yaml; test/unit/compose.test.ts keeps them equal.\n' +
    stringify(Object.fromEntries(entries))
  );
}

/** Where the cluster keeps its databases: the Postgres its server and schema tool connect to. */
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
 * docker-compose.yml's Temporal server config, mounted from deploy/temporal-server-compose.yaml (which holds this
 * text; test/unit/compose.test.ts keeps them equal): the config of the cluster topology, the same function, with
 * compose's hosts and paths. The frontend listens on every interface of its container, for the worker, API and UI
 * containers; the other services on the container's loopback. The server renders the file as a template (its
 * first line), so the database password comes from the container's POSTGRES_PASSWORD, which .env gives.
 */
export function composeServerConfigYaml(): string {
  return (
    '# enable-template: rendered by the Temporal server at start (the password from POSTGRES_PASSWORD).\n' +
    '# docker-compose.yml\'s Temporal server config, written by composeServerConfigYaml (dev/temporal-cluster/config.ts);\n' +
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
 * Writes the server's config and dynamic config into `dir` (config/development.yaml, dynamic-config.yaml)
 * and returns how to start it: `temporal-server --root <dir> --config config --env development start`.
 */
export function writeServerConfig(
  dir: string,
  options: { ports: ClusterPorts; postgres: PostgresEndpoint; logLevel?: 'debug' | 'info' | 'warn' | 'error'; tls: TemporalTlsFiles },
): { args: string[] } {
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  const dynamicConfigFile = path.join(dir, 'dynamic-config.yaml');
  writeFileSync(dynamicConfigFile, clusterDynamicConfigYaml());
  const configFile = path.join(dir, 'config', 'development.yaml');
  writeFileSync(configFile, clusterServerConfigYaml({ ...options, dynamicConfigFile }), { mode: 0o600 });
  chmodSync(configFile, 0o600); // it holds the database password, whatever mode an earlier file had
  // No authorizer: only a client holding a certificate of the cluster's CA gets in (`tls`, mutual), and every
  // holder is the engine's own (platform/tls-certificates.ts).
  return { args: ['--root', dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'] };
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