import { type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureTemporalCertificates, type TemporalTlsFiles } from '../../platform/tls-certificates';
import { type ClusterPorts, type PostgresEndpoint, writeServerConfig, writeUiServerConfig } from '../temporal-cluster/config';
import { prepareNamespace } from '../temporal-cluster/namespace';
import { setupTemporalSchemas } from '../temporal-cluster/schema';
import { clusterConnectionOptions, waitForFrontend } from '../temporal-cluster/server';
import { type ClusterTools, TEMPORAL_SERVER_VERSION } from '../temporal-cluster/tools';
import { devServerGoEnv } from '../dev-server';
import { type Children } from './children';

export type Progress = (what: string, since?: number) => void;

/**
 * The cluster topology's Temporal before its first start: the schemas brought up to date in Postgres, the
 * certificates of its frontend's mutual TLS (made once into the data folder), and the server's config written
 * into the data folder (from code, on every start). Production runs the same server with the same settings.
 */
export async function prepareCluster(
  tools: ClusterTools,
  options: { dataDir: string; postgres: PostgresEndpoint; ports: ClusterPorts; logLevel?: 'debug' | 'info' | 'warn' | 'error'; progress: Progress },
): Promise<{ args: string[]; tls: TemporalTlsFiles }> {
  const schemaStarted = Date.now();
  const databases = await setupTemporalSchemas(tools, options.postgres);
  options.progress(`Temporal's databases ready in Postgres: ${databases.join(', ')}`, schemaStarted);
  const tlsStarted = Date.now();
  const { files: tls, made } = await ensureTemporalCertificates(path.join(options.dataDir, 'temporal-tls'));
  options.progress(made ? `certificates for Temporal's mutual TLS made in ${tls.dir}` : `certificates for Temporal's mutual TLS in ${tls.dir}`, tlsStarted);
  const { args } = writeServerConfig(path.join(options.dataDir, 'temporal-cluster', 'server'), {
    ports: options.ports,
    postgres: options.postgres,
    tls,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
  });
  return { args, tls };
}

/**
 * Starts the cluster's Temporal server and waits until its frontend answers; the first time, creates the
 * namespace and the search attributes through the API, as production does (idempotent on a restart).
 */
export async function startClusterServer(
  tools: ClusterTools,
  children: Children,
  options: { args: string[]; tls: TemporalTlsFiles; address: string; namespace: string; env: NodeJS.ProcessEnv; prepare: boolean; progress: Progress },
): Promise<ChildProcess> {
  const started = Date.now();
  if (options.prepare) options.progress(`starting the Temporal server v${TEMPORAL_SERVER_VERSION} (history and visibility in Postgres)`);
  const server = children.start('temporal', 'temporal', tools.server, options.args, { ...options.env, ...devServerGoEnv(options.env) });
  await waitForFrontend(options.address, server, 120_000, () => children.tail(server), options.tls);
  if (!options.prepare) return server;
  options.progress('Temporal server answering', started);
  const nsStarted = Date.now();
  const connection = await Connection.connect(clusterConnectionOptions(options.address, options.tls));
  try {
    const { namespaceCreated, attributesAdded } = await prepareNamespace(connection, options.namespace);
    options.progress(
      `namespace ${options.namespace} ${namespaceCreated ? 'created' : 'present'}; ` +
        (attributesAdded.length > 0 ? `search attributes added: ${attributesAdded.join(', ')}` : 'search attributes present'),
      nsStarted,
    );
  } finally {
    await connection.close();
  }
  return server;
}

/** The cluster's standalone Web UI, decoding payloads through the API's codec server. */
export function startClusterUi(
  tools: ClusterTools,
  children: Children,
  options: { dataDir: string; port: number; address: string; codecEndpoint: string; namespace: string; tls: TemporalTlsFiles; env: NodeJS.ProcessEnv },
): void {
  const ui = writeUiServerConfig(path.join(options.dataDir, 'temporal-cluster', 'ui'), {
    port: options.port,
    temporalAddress: options.address,
    codecEndpoint: options.codecEndpoint,
    namespace: options.namespace,
    tls: options.tls,
  });
  children.start('temporal-ui', 'temporal-ui', tools.uiServer, ui.args, options.env);
}
