/**
 * The production topology on one machine, without Docker: the Temporal server (go.temporal.io/server, built
 * by dev/tools/go.sh) with its persistence and SQL visibility in Postgres, its namespace and the case
 * search attributes created through the API as production creates them, and the standalone Web UI server.
 * Started by the one stack harness (dev/stack.ts, dev/stack/cluster.ts) for `npm run dev -- --cluster`, the
 * benchmarks and the cluster tests. docker-compose.yml runs the same versions, schema steps, dynamic config and server
 * config, its frontend behind the same mutual TLS (composeServerConfigYaml; test/unit/compose.test.ts).
 *
 * This folder: the tools and their versions (here), the config files (config.ts), the databases' schemas
 * (schema.ts), the namespace and search attributes (namespace.ts), and the server's process (server.ts).
 */

/** The versions dev/tools/go.sh builds (TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_UI_VERSION = '2.42.1';

/** Where the tools are: dev/tools.sh cluster prints these. */
export interface ClusterTools {
  server: string;
  sqlTool: string;
  /** The module's schema/postgresql/v12 folder. */
  schemaDir: string;
  uiServer: string;
}

export function clusterToolsFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterTools | undefined {
  const { TEMPORAL_SERVER_PATH: server, TEMPORAL_SQL_TOOL_PATH: sqlTool, TEMPORAL_SCHEMA_DIR: schemaDir, TEMPORAL_UI_SERVER_PATH: uiServer } = env;
  return server && sqlTool && schemaDir && uiServer ? { server, sqlTool, schemaDir, uiServer } : undefined;
}
