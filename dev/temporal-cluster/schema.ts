import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { type PostgresEndpoint, TEMPORAL_DATABASES } from './config';
import { type ClusterTools } from './tools';

/**
 * The schema tool's steps for one database, as arguments after its connection flags: create the database,
 * create the version table (`setup-schema -v 0.0`), and apply every versioned step not yet applied. The same
 * steps as Temporal's auto-setup image; docker-compose.yml runs these (test/unit/compose.test.ts).
 */
export function schemaToolSteps(kind: keyof typeof TEMPORAL_DATABASES, schemaDir: string): string[][] {
  const db = TEMPORAL_DATABASES[kind];
  const versioned = path.join(schemaDir, kind === 'persistence' ? 'temporal' : 'visibility', 'versioned');
  return [
    ['--db', db, 'create-database'],
    ['--db', db, 'setup-schema', '-v', '0.0'],
    ['--db', db, 'update-schema', '-d', versioned],
  ];
}

function sqlToolConnectionArgs(postgres: PostgresEndpoint): string[] {
  return ['--plugin', 'postgres12', '--ep', postgres.host, '-p', String(postgres.port), '-u', postgres.user, '--pw', postgres.password];
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${path.basename(command)} ${args.filter((a, i) => args[i - 1] !== '--pw').join(' ')} failed (exit ${code}):\n${output.slice(-3000)}`))));
  });
}

/**
 * Creates the two databases where missing and brings their schemas to the version the tool's folder holds
 * (nothing to do on a later start). Returns what it did, for the caller to say.
 */
export async function setupTemporalSchemas(tools: Pick<ClusterTools, 'sqlTool' | 'schemaDir'>, postgres: PostgresEndpoint): Promise<string[]> {
  const admin = new PgClient({ host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password, database: 'postgres' });
  await admin.connect();
  const existing = new Set(
    (await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [Object.values(TEMPORAL_DATABASES)])).rows.map((r) => r.datname),
  );
  await admin.end();
  const done: string[] = [];
  for (const kind of ['persistence', 'visibility'] as const) {
    const steps = schemaToolSteps(kind, tools.schemaDir);
    // create-database is not idempotent (CREATE DATABASE); the schema steps are.
    for (const step of existing.has(TEMPORAL_DATABASES[kind]) ? steps.slice(1) : steps) {
      await run(tools.sqlTool, [...sqlToolConnectionArgs(postgres), ...step]);
    }
    done.push(`${TEMPORAL_DATABASES[kind]}${existing.has(TEMPORAL_DATABASES[kind]) ? ' (schema checked)' : ' (created)'}`);
  }
  return done;
}
