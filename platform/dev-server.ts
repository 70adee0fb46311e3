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
  // read of the search attributes then goes to SQLite. That cost 8.7 cluster-metadata reads and 4.9 namespace
  // reads per case in a fan-out, through the dev server's one SQLite connection, and about a tenth of its CPU.
  // This engine creates none while the server runs: `--search-attribute` (searchAttributeCliArgs) writes them
  // into the namespace record before the server starts (CLI 1.5.1 devserver/server.go, NewNamespaceConfig),
  // and with SQL visibility a custom attribute is an alias in that record, not in the cached cluster list.
  'system.forceSearchAttributesCacheRefreshOnRead': false,
};

/** `--dynamic-config-value key=value` pairs (values in JSON) for `temporal server start-dev`. */
export function devServerDynamicConfigArgs(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/**
 * The dev server's Go runtime collects garbage when its heap has grown by GOGC percent since the last
 * collection (Go's default: 100). At 100 it spent an eighth of its CPU collecting during a fan-out; at 400
 * a 4,000-case fan-out cost it 16% less CPU. GOMEMLIMIT makes it collect harder before its heap reaches
 * that much, whatever GOGC allows. Values already in the environment win.
 */
export const DEV_SERVER_GO_ENV: Record<string, string> = {
  GOGC: '400',
  GOMEMLIMIT: '3GiB',
};

/** The DEV_SERVER_GO_ENV settings that the environment does not set itself, for the dev server's process. */
export function devServerGoEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(DEV_SERVER_GO_ENV).filter(([key]) => env[key] === undefined));
}
