import { type TemporalTlsFiles, TEMPORAL_TLS_SERVER_NAME } from '../../platform/tls-certificates';
import { TEMPORAL_SERVER_VERSION } from '../temporal-cluster/tools';

/* What the local stack prints: its progress, and once ready the addresses and keys. */

/** One line of the stack's own output. */
export function say(message: string): void {
  process.stdout.write(`[local] ${message}\n`);
}

/** "0.4 s", "12 s", "3 min 5 s", as dev/tools/common.sh prints durations. */
export function duration(ms: number): string {
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Prints `[local] <what> (<time since since>)`. */
export function done(what: string, since: number): void {
  say(`${what} (${duration(Date.now() - since)})`);
}

export interface ReadyStack {
  topology: 'dev' | 'cluster';
  address: string;
  namespace: string;
  uiOrigin: string;
  apiPorts: number[];
  /** Each worker's metrics port, null where the port was taken. */
  workerMetrics: (number | null)[];
  databaseUrl: string;
  /** The cluster's certificate files (its frontend asks every client for one). */
  temporalTls?: TemporalTlsFiles;
  keys: Record<string, string>;
  keysFile: string;
  /** Which SDK bridge the worker loads, as dev/tools/rust.sh found it. */
  bridge: { state?: string; note?: string };
  /** When `npm run dev` started (dev/dev.sh), and when the stack itself did. */
  devStartedAt?: number;
  startedAt: number;
}

/** The addresses, the development keys and how to see cases in clear, once everything answers. */
export function printReady(s: ReadyStack): void {
  const workerCount = s.workerMetrics.length;
  say('');
  say(`Temporal UI   ${s.uiOrigin}`);
  say(
    s.topology === 'cluster'
      ? `Temporal      ${s.address} (namespace ${s.namespace}; server v${TEMPORAL_SERVER_VERSION}, history and SQL visibility in Postgres; mutual TLS, certificates in ${s.temporalTls!.dir})`
      : `Temporal      ${s.address} (namespace ${s.namespace})`,
  );
  if (s.temporalTls) {
    // The frontend refuses a client without the certificate: the CLI needs these flags (or TEMPORAL_TLS_* in its environment).
    const t = s.temporalTls;
    say(`Temporal CLI  temporal workflow list --address ${s.address} --tls-ca-path ${t.ca} --tls-cert-path ${t.clientCert} --tls-key-path ${t.clientKey} --tls-server-name ${TEMPORAL_TLS_SERVER_NAME}`);
  }
  for (const port of s.apiPorts) say(`API           http://localhost:${port}  (docs: /api/v1/docs, metrics: /metrics, health: /healthz, /readyz)`);
  s.workerMetrics.forEach((port, i) => port && say(`Worker metrics http://localhost:${port}/metrics${workerCount > 1 ? ` (worker-${i + 1})` : ''}`));
  say(`Postgres      ${s.databaseUrl.replace(/:[^:@/]+@/, ':***@')}`);
  say('');
  say(`Development API keys (Authorization: Bearer <key>; kept in ${s.keysFile}):`);
  for (const [role, key] of Object.entries(s.keys)) say(`  ${role.padEnd(12)} ${key}`);
  // Payloads are encrypted (README: Payload encryption): the UI shows them through the API's codec server.
  say(`Cases in clear in the UI: sign in once at http://localhost:${s.apiPorts[0]}/codec/login (any user name, the reader key as password)`);
  if (s.topology === 'dev') say("  and in the UI's Codec Server settings tick 'Use my browser setting' and 'Include cross-origin credentials'");
  if (s.bridge.state === 'patched') say('SDK bridge    built with patches/ (as in production)');
  else if (s.bridge.note) say(`SDK bridge    the SDK's prebuilt one: ${s.bridge.note}`);
  if (s.topology === 'cluster') say('A worker or API instance that exits is reported and the other carries on.');
  say('Ctrl-C stops everything; the data folder keeps the cases for the next start.');
  say(
    s.devStartedAt
      ? `ready ${duration(Date.now() - s.devStartedAt)} after \`npm run dev\` started (setup ${duration(s.startedAt - s.devStartedAt)}, servers ${duration(Date.now() - s.startedAt)})`
      : `ready ${duration(Date.now() - s.startedAt)} after the stack started`,
  );
}
