import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { type TemporalSettings } from './config';

function connectionOptions(settings: TemporalSettings) {
  return {
    address: settings.address,
    tls: settings.tls
      ? {
          serverNameOverride: settings.tls.serverName,
          serverRootCACertificate: settings.tls.ca,
          clientCertPair: settings.tls.clientCert,
        }
      : undefined,
    apiKey: settings.apiKey,
  };
}

/** Client for the API process (starting cases, updates, queries). */
export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(settings));
  return new Client({ connection, namespace: settings.namespace });
}

/** Native connection for the worker process. */
export function connectWorker(settings: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(settings));
}
