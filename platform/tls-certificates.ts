// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as x509 from '@peculiar/x509';

/**
 * The certificates of mutual TLS between the engine and Temporal's frontend (issue #23), for the cluster
 * topology and docker-compose.yml: a CA, a server certificate for the frontend, and one client certificate
 * that the worker, the API, the Web UI and the server's own system worker present. Made once into a folder
 * of the data (ECDSA P-256, valid 5 years) and made again, all together, when one is missing or has less than
 * 30 days left. The CA's private key is never written: nobody can issue another certificate the frontend
 * accepts, so a client holds one of these files or is refused. Private keys are mode 0600.
 */

/** The name the frontend's certificate carries and clients verify (TEMPORAL_TLS_SERVER_NAME); compose's service name. */
export const TEMPORAL_TLS_SERVER_NAME = 'temporal';
/** Besides that name, the certificate holds these, so a client dialling 127.0.0.1 or localhost verifies it too. */
const OTHER_SERVER_NAMES: x509.JsonGeneralName[] = [
  { type: 'dns', value: 'localhost' },
  { type: 'ip', value: '127.0.0.1' },
];

const VALID_DAYS = 5 * 365;
const RENEW_WITHIN_DAYS = 30;
const DAY_MS = 86_400_000;

export interface TemporalTlsFiles {
  dir: string;
  /** The CA that signed both certificates: the server trusts client certificates it signed, clients trust the server's. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export function temporalTlsFiles(dir: string): TemporalTlsFiles {
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server-key.pem'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client-key.pem'),
  };
}

/** The environment variables of platform/config.ts that make a worker or API connect with these files. */
export function temporalTlsEnv(files: TemporalTlsFiles): Record<string, string> {
  return {
    TEMPORAL_TLS_CA_PATH: files.ca,
    TEMPORAL_TLS_CERT_PATH: files.clientCert,
    TEMPORAL_TLS_KEY_PATH: files.clientKey,
    TEMPORAL_TLS_SERVER_NAME: TEMPORAL_TLS_SERVER_NAME,
  };
}

/** The connection options of @temporalio/client and NativeConnection for a process that holds these files. */
export function temporalTlsOptions(files: TemporalTlsFiles): { serverNameOverride: string; serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } } {
  return {
    serverNameOverride: TEMPORAL_TLS_SERVER_NAME,
    serverRootCACertificate: readFileSync(files.ca),
    clientCertPair: { crt: readFileSync(files.clientCert), key: readFileSync(files.clientKey) },
  };
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * The files in `dir`, made when missing or near their end; otherwise those already there, their keys set to
 * 0600 whatever their mode was. `made` says whether they were made now.
 */
export async function ensureTemporalCertificates(dir: string, now = new Date()): Promise<{ files: TemporalTlsFiles; made: boolean }> {
  const files = temporalTlsFiles(dir);
  if (current(files, now)) {
    for (const key of [files.serverKey, files.clientKey]) chmodSync(key, 0o600);
    return { files, made: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const subtle = webcrypto.subtle;
  const notBefore = new Date(now.getTime() - DAY_MS); // a clock a little behind still accepts them
  const notAfter = new Date(now.getTime() + VALID_DAYS * DAY_MS);
  const caKeys = (await subtle.generateKey(ALGORITHM, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Sygedagpenge engine Temporal CA',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leaf = async (commonName: string, usage: x509.ExtendedKeyUsage, names: x509.JsonGeneralName[]) => {
    const keys = (await subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${commonName}`,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
    return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
  };
  const server = await leaf(TEMPORAL_TLS_SERVER_NAME, x509.ExtendedKeyUsage.serverAuth, [{ type: 'dns', value: TEMPORAL_TLS_SERVER_NAME }, ...OTHER_SERVER_NAMES]);
  const client = await leaf('sygedagpenge-engine', x509.ExtendedKeyUsage.clientAuth, []);
  // Written beside and renamed over: a process reading them meanwhile sees the old set or the new, per file.
  const write = (file: string, text: string, mode: number) => {
    writeFileSync(`${file}.new`, text, { mode });
    chmodSync(`${file}.new`, mode);
    renameSync(`${file}.new`, file);
  };
  write(files.serverKey, server.key, 0o600);
  write(files.clientKey, client.key, 0o600);
  write(files.serverCert, `${server.cert}\n`, 0o644);
  write(files.clientCert, `${client.cert}\n`, 0o644);
  write(files.ca, `${ca.toString('pem')}\n`, 0o644);
  return { files, made: true };
}

/**
 * All five files there, each certificate signed by the CA, matching its key and good for at least
 * RENEW_WITHIN_DAYS more (a set left half written by a stopped process is made again).
 */
function current(files: TemporalTlsFiles, now: Date): boolean {
  if (![files.ca, files.serverCert, files.serverKey, files.clientCert, files.clientKey].every((f) => existsSync(f))) return false;
  const spki = (key: ReturnType<typeof createPublicKey>) => key.export({ type: 'spki', format: 'der' });
  try {
    const ca = new NodeX509Certificate(readFileSync(files.ca));
    const renewBy = now.getTime() + RENEW_WITHIN_DAYS * DAY_MS;
    return [
      [files.serverCert, files.serverKey],
      [files.clientCert, files.clientKey],
    ].every(([certFile, keyFile]) => {
      const cert = new NodeX509Certificate(readFileSync(certFile!));
      return (
        cert.verify(ca.publicKey) &&
        new Date(cert.validTo).getTime() > renewBy &&
        spki(cert.publicKey).equals(spki(createPublicKey(createPrivateKey(readFileSync(keyFile!)))))
      );
    });
  } catch {
    return false;
  }
}
