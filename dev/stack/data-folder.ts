import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { newKeySpec } from '../../platform/payload-codec';
import { type LocalPostgres, startLocalPostgres } from '../local-postgres';
import { freePort } from '../ports';
import { type Progress } from './cluster';

/* What the stack keeps in its data folder besides Temporal's: the local Postgres's cluster and the payload key. */

/**
 * A local Postgres on `port`, its cluster in `dir`. A free port can be taken by another server between
 * freePort() and Postgres binding it: with `retry`, another port, a few times.
 */
export async function startPostgresOn(dir: string, port: number, database: string, retry: boolean): Promise<LocalPostgres> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLocalPostgres({ dataDir: dir, port: port || (await freePort()), database });
    } catch (err) {
      if (!retry || attempt >= 3 || !String(err instanceof Error ? err.message : err).includes('Address already in use')) throw err;
      port = 0;
    }
  }
}

/** PAYLOAD_KEYS or PAYLOAD_KEY_FILE for the processes: the one given, the environment's, else a key made once into the data folder. */
export function payloadKeysEnv(spec: string | undefined, keyFile: string | undefined, dataDir: string, progress: Progress): { PAYLOAD_KEYS?: string; PAYLOAD_KEY_FILE?: string } {
  if (spec) return { PAYLOAD_KEYS: spec };
  if (keyFile) return { PAYLOAD_KEY_FILE: keyFile };
  const file = path.join(dataDir, 'payload-keys');
  if (!existsSync(file)) {
    writeFileSync(file, `${newKeySpec(`local-${new Date().toISOString().slice(0, 10)}`)}\n`, { mode: 0o600 });
    progress(`payload encryption key made in ${file}`);
  }
  return { PAYLOAD_KEY_FILE: file };
}
