import type * as Schemas from './schemas';

/**
 * The zod schemas of schemas.ts, built on first use and then kept.
 *
 * The workflow sandbox evaluates a workflow's modules once for every workflow it runs, so schemas built in
 * module scope would be built for every case, costing CPU and memory again every time an evicted case is brought
 * back (docs/capacity.md, What the throughput rests on).
 * Workflow code therefore reaches the schemas only through this function. The worker preloads this module
 * (and zod) into the shared V8 context (worker/worker.ts), so the schemas are built once per worker and
 * shared by all cases. They hold no state of any case: parsing is a pure function of the schema and the
 * value. Without the preload (a replay, a test bundle) each workflow builds its own copy on first use, with
 * the same results.
 */
let built: typeof Schemas | undefined;

export function schemas(): typeof Schemas {
  // eslint-disable-next-line no-restricted-globals, @typescript-eslint/no-require-imports -- deferred on purpose, see above
  built ??= require('./schemas') as typeof Schemas;
  return built;
}
