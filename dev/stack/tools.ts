import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repositoryRoot } from '../root';
import { type ClusterTools, clusterToolsFromEnv } from '../temporal-cluster/tools';

/**
 * Where the servers' tools are: from the environment that npm run dev, npm test and npm run bench:* set up
 * (dev/tools/), else located in the per-machine cache or built there once by dev/tools.sh (a suite or a
 * script run alone).
 */
const root = repositoryRoot();
let engine: { cli: string; testServer: string } | undefined;
let cluster: ClusterTools | undefined;

function reported(args: string[]): Record<string, string> {
  const out = execFileSync('bash', [path.join(root, 'dev', 'tools.sh'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return Object.fromEntries([...out.matchAll(/^(TEMPORAL_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** The Temporal CLI (its dev server) and the time-skipping test server. */
export function engineTools(): { cli: string; testServer: string } {
  if (engine) return engine;
  let { TEMPORAL_CLI_PATH: cli, TEMPORAL_TEST_SERVER_PATH: testServer } = process.env;
  if (!cli || !testServer) {
    const vars = reported([]);
    cli ??= vars.TEMPORAL_CLI_PATH;
    testServer ??= vars.TEMPORAL_TEST_SERVER_PATH;
  }
  if (!cli || !testServer) throw new Error('dev/tools.sh did not report the Temporal tool paths');
  engine = { cli, testServer };
  return engine;
}

/** The Temporal CLI, whose dev server the dev topology runs. */
export function temporalCli(): string {
  return process.env.TEMPORAL_CLI_PATH || engineTools().cli;
}

/** The cluster topology's tools: the Temporal server, its SQL tool and schema, the UI server. */
export function clusterTools(): ClusterTools {
  cluster ??= clusterToolsFromEnv() ?? clusterToolsFromEnv(reported(['cluster']));
  if (!cluster) throw new Error("dev/tools.sh cluster did not report the cluster's tool paths");
  return cluster;
}
