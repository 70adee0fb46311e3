/**
 * Settings for `temporal server start-dev`, shared by `npm run dev`, the benchmarks and the tests.
 *
 * The CLI's dev server keeps the state of only 8,096 workflows in memory (history.hostLevelCacheMaxSize);
 * a Temporal cluster keeps 128,000 by default. With more open cases than that, a fan-out walking all of
 * them misses the cache on every signal and reads each case back from SQLite. The dev server gets the
 * cluster's default.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  'history.hostLevelCacheMaxSize': 128_000,
  // The CLI turns this on so that search attributes created while the server runs are usable at once: every
  // read of the search attributes then goes to SQLite, several reads per case in a fan-out through the dev
  // server's one SQLite connection (docs/capacity.md, What the throughput rests on).
  // This engine creates none while the server runs: `--search-attribute` (searchAttributeCliArgs) writes them
  // into the namespace record before the server starts (CLI 1.5.1 devserver/server.go, NewNamespaceConfig),
  // and with SQL visibility a custom attribute is an alias in that record, not in the cached cluster list.
  'system.forceSearchAttributesCacheRefreshOnRead': false,
  // Every change of a case schedules its read-model write as an activity on the case's own task queue; with
  // eager execution the worker that completes the workflow task gets the activity in the answer, instead
  // of the server putting it on the task queue and matching it to a poll (a cluster's default is off too).
  'system.enableActivityEagerExecution': true,
  // Visibility calls (list, count) a namespace may make per second through one frontend. The CLI's dev server
  // raises it to 100 on its own (devserver/server.go); a cluster's default is 10, and beyond it every caller
  // waits: on the cluster a client polling a count saw each answer take about 1.5 s instead of milliseconds,
  // and the fan-outs, ops verify, the tests and every caseworker's UI page share that budget. Stated here, so
  // both topologies (and docker-compose.yml) run with 100.
  'frontend.namespaceRPS.visibility': 100,
};

/** `--dynamic-config-value key=value` pairs (values in JSON) for `temporal server start-dev`. */
export function devServerDynamicConfigArgs(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/**
 * The dev server's Go runtime collects garbage when its heap has grown by GOGC percent since the last
 * collection (Go's default: 100). A fan-out grows its heap fast, and at the default it spent a large share of
 * its CPU collecting (docs/capacity.md, What the throughput rests on); 400 collects less often. GOMEMLIMIT makes
 * it collect harder before its heap reaches that much, whatever GOGC allows. Values already in the environment win.
 */
export const DEV_SERVER_GO_ENV: Record<string, string> = {
  GOGC: '400',
  GOMEMLIMIT: '3GiB',
};

/** The DEV_SERVER_GO_ENV settings that the environment does not set itself, for the dev server's process. */
export function devServerGoEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(DEV_SERVER_GO_ENV).filter(([key]) => env[key] === undefined));
}

/**
 * How much lower the worker's CPU priority is than the dev server's when both run on one machine (`npm run
 * dev`, the benchmarks): `nice -n 10`. The dev server does all its persistence through one SQLite
 * connection, so every case waits whenever the goroutine holding it is not on a core; the worker's work
 * can wait instead, and a fan-out ends sooner (docs/capacity.md, What the throughput rests on). SFE_WORKER_NICENESS
 * sets it (0 to 19; 0 runs the worker at the same priority).
 */
export const DEFAULT_WORKER_NICENESS = 10;

/** The command that starts the worker with `args` at the co-located worker's priority. */
export function workerCommand(node: string, args: string[], env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const raw = env.SFE_WORKER_NICENESS;
  const niceness = raw === undefined || raw === '' ? DEFAULT_WORKER_NICENESS : Number(raw);
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) {
    throw new Error(`SFE_WORKER_NICENESS must be a whole number from 0 to 19, not "${raw}"`);
  }
  if (niceness === 0 || process.platform === 'win32') return { command: node, args };
  return { command: 'nice', args: ['-n', String(niceness), node, ...args] };
}
