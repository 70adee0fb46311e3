import path from 'node:path';
import { ensureTemporalCertificates } from '../platform/tls-certificates';

/**
 * `node dist/cli/temporal-certificates.js <folder>`: the certificates of mutual TLS with Temporal's frontend
 * (platform/tls-certificates.ts) made into the folder, or those already there kept. docker-compose.yml runs it once
 * per `up`, into the volume the Temporal server, the UI, the worker and the API mount.
 */
async function main(): Promise<void> {
  const [dir] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write('temporal-certificates: give the folder to make them in, e.g. node dist/cli/temporal-certificates.js /etc/temporal-tls\n');
    process.exit(2);
  }
  const { files, made } = await ensureTemporalCertificates(path.resolve(dir));
  process.stdout.write(`${made ? 'made' : 'kept'} the CA, server and client certificates of Temporal's mutual TLS in ${files.dir}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`temporal-certificates: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
