import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureTemporalCertificates, type TemporalTlsFiles } from '../../platform/tls-certificates';
import { clusterPortsFrom, writeServerConfig, writeUiServerConfig } from '../temporal-cluster/config';
import { prepareNamespace } from '../temporal-cluster/namespace';
import { setupTemporalSchemas } from '../temporal-cluster/schema';
import { clusterConnectionOptions, spawnTemporalServer, waitForFrontend } from '../temporal-cluster/server';
import { type ClusterTools, TEMPORAL_SERVER_VERSION } from '../temporal-cluster/tools';
import { type Children } from './children';
import { done, say } from './output';

/**
 * The cluster topology's Temporal: the schemas brought up to date in Postgres, the certificates of its frontend's
 * mutual TLS (made once into the data folder), the server started on its config (written into the data folder on
 * every start, from code), the namespace and the search attributes created through the API, and the standalone
 * Web UI decoding through the API's codec server. Returns the certificate files the engine's processes connect with.
 */
export async function startCluster(
  tools: ClusterTools,
  children: Children,
  options: { dataDir: string; databaseUrl: string; temporalPort: number; uiPort: number; namespace: string; codecEndpoint: string; env: NodeJS.ProcessEnv },
): Promise<TemporalTlsFiles> {
  const { dataDir, temporalPort, namespace } = options;
  const address = `127.0.0.1:${temporalPort}`;
  const url = new URL(options.databaseUrl);
  const pg = { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  const schemaStarted = Date.now();
  const databases = await setupTemporalSchemas(tools, pg);
  done(`Temporal's databases ready in Postgres: ${databases.join(', ')}`, schemaStarted);
  const tlsStarted = Date.now();
  const { files: tls, made } = await ensureTemporalCertificates(path.join(dataDir, 'temporal-tls'));
  done(made ? `certificates for Temporal's mutual TLS made in ${tls.dir}` : `certificates for Temporal's mutual TLS in ${tls.dir}`, tlsStarted);
  const dir = path.join(dataDir, 'temporal-cluster');
  const { args } = writeServerConfig(path.join(dir, 'server'), { ports: clusterPortsFrom(temporalPort), postgres: pg, tls });
  say(`starting the Temporal server v${TEMPORAL_SERVER_VERSION} (config in ${path.join(dir, 'server')}; history and visibility in Postgres)`);
  const serverStarted = Date.now();
  const server = children.watch('temporal', spawnTemporalServer(tools, args, options.env));
  await waitForFrontend(address, server, 120_000, undefined, tls);
  done('Temporal server answering', serverStarted);
  const nsStarted = Date.now();
  const connection = await Connection.connect(clusterConnectionOptions(address, tls));
  try {
    const { namespaceCreated, attributesAdded } = await prepareNamespace(connection, namespace);
    done(
      `namespace ${namespace} ${namespaceCreated ? 'created' : 'present'}; ` +
        (attributesAdded.length > 0 ? `search attributes added: ${attributesAdded.join(', ')}` : 'search attributes present'),
      nsStarted,
    );
  } finally {
    await connection.close();
  }
  const ui = writeUiServerConfig(path.join(dir, 'ui'), { port: options.uiPort, temporalAddress: address, codecEndpoint: options.codecEndpoint, namespace, tls });
  children.start('temporal-ui', tools.uiServer, ui.args);
  return tls;
}
