import { Client, Connection } from '@temporalio/client';
import { type DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { type TemporalSettings } from './config';
import { WorkflowBindingCodec } from './payload-binding';
import { EncryptionCodec, type Keyring, type PlaintextHandling } from './payload-codec';

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

/** The failure converter module (platform/failure-converter.ts), loaded by path as the SDK requires. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * How every process of the engine (worker, API, ops tools, tests) turns values into Temporal payloads:
 * the SDK's JSON payloads, bound to the workflow they belong to (platform/payload-binding.ts), then the
 * encryption codec (platform/payload-codec.ts), which encrypts the binding with the value. Failures carry their
 * message and stack trace inside the encrypted details instead of in clear (`encodeCommonAttributes`):
 * an error message can name a case's facts. A payload that is not encrypted, or was encrypted for another workflow,
 * is refused: clients fail the call, the worker (`mark`) hands the workflow a marker it refuses, so one forged or
 * copied message cannot stop a case.
 */
export function caseDataConverter(keyring: Keyring, plaintext: PlaintextHandling = 'refuse'): DataConverter {
  return {
    // Encoding runs through the list in order, decoding in reverse: the binding is inside the ciphertext.
    payloadCodecs: [new WorkflowBindingCodec(plaintext), new EncryptionCodec(keyring, plaintext)],
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}

/** Client for the API process (starting cases, updates, queries), encrypting with `keyring`. */
export async function connectClient(settings: TemporalSettings, keyring: Keyring): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(settings));
  return new Client({ connection, namespace: settings.namespace, dataConverter: caseDataConverter(keyring) });
}

/** Native connection for the worker process. */
export function connectWorker(settings: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(settings));
}
