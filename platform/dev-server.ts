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
};

/** `--dynamic-config-value key=value` pairs (values in JSON) for `temporal server start-dev`. */
export function devServerDynamicConfigArgs(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}
