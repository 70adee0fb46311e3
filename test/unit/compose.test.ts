import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../../platform/config';
import { CASE_SEARCH_ATTRIBUTES, searchAttributeCliArgs } from '../../workflows/search-attributes';
import { missingComposeKeys } from '../../scripts/compose-env';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../platform/dev-server';
import {
  clusterDynamicConfigYaml,
  NAMESPACE_RETENTION_DAYS,
  schemaToolSteps,
  TEMPORAL_DATABASES,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_UI_VERSION,
} from '../../platform/temporal-cluster';

/** docker-compose.yml cannot run here (no Docker engine), so it is checked by parsing against the code. */
const root = path.resolve(__dirname, '..', '..');
const text = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
/** The file as docker compose reads it, with the `.env` that `npm run compose:env` writes. */
const dotEnv = Object.fromEntries(missingComposeKeys('').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
const compose = parse(text.replace(/\$\{(\w+):\?[^}]*\}/g, (_m, name: string) => dotEnv[name] ?? '')) as {
  services: Record<
    string,
    { image?: string; environment?: Record<string, string>; ports?: string[]; command?: string[] | string; build?: string; depends_on?: unknown; volumes?: string[]; deploy?: { replicas?: number } }
  >;
};

test('no key is written in the file: API and payload keys come from .env, and compose stops without them', () => {
  const raw = parse(text) as typeof compose;
  for (const name of ['worker', 'api']) {
    const env = raw.services[name]!.environment!;
    expect(env.PAYLOAD_KEYS).toMatch(/^\$\{PAYLOAD_KEYS:\?.+\}$/);
    if (name === 'api') expect(env.API_KEYS).toMatch(/^\$\{API_KEYS:\?.+\}$/);
  }
  expect(text).not.toMatch(/(case-system|ops|reader):[A-Za-z0-9_-]{16,}/);
  expect(raw.services.api!.environment!.METRICS_KEY).toMatch(/^\$\{METRICS_KEY:\?.+\}$/);
  expect(Object.keys(dotEnv).sort()).toEqual(['API_KEYS', 'METRICS_KEY', 'PAYLOAD_KEYS']);
  expect(loadConfig(compose.services.api!.environment).metricsKey).toBe(dotEnv.METRICS_KEY);
  expect(missingComposeKeys(`API_KEYS=x\nPAYLOAD_KEYS=y\nMETRICS_KEY=z\n`)).toEqual([]);
});

test('the UI decodes through the API codec server, which lets that UI origin call it', () => {
  const ui = compose.services['temporal-ui']!.environment!;
  expect(ui.TEMPORAL_CODEC_ENDPOINT).toBe(`http://localhost:${compose.services.api!.environment!.PORT}/codec`);
  expect(ui.TEMPORAL_CODEC_INCLUDE_CREDENTIALS).toBe('true');
  const api = loadConfig(compose.services.api!.environment);
  expect(api.codecCorsOrigins).toEqual(['http://localhost:8233']);
  expect(api.payloadKeyring?.keys.size).toBe(1);
  expect(loadConfig(compose.services.worker!.environment).payloadKeyring?.currentKeyId).toBe(api.payloadKeyring?.currentKeyId);
});

test('the services are Temporal on Postgres, the Temporal UI, Postgres, the worker and the API', () => {
  expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
  expect(compose.services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
});

test('ports match the local run: Temporal 7233, UI 8233, API 3000', () => {
  expect(compose.services.temporal!.ports).toEqual(['7233:7233']);
  expect(compose.services['temporal-ui']!.ports).toEqual(['8233:8080']);
  expect(compose.services.api!.ports).toEqual([`${compose.services.api!.environment!.PORT}:3000`]);
});

test.each(['worker', 'api'])('the %s uses only variables the config module reads, and they load', (name) => {
  const env = compose.services[name]!.environment!;
  for (const key of Object.keys(env)) expect(Object.keys(ENVIRONMENT_VARIABLES)).toContain(key);
  const config = loadConfig(env);
  expect(config.temporal.address).toBe('temporal:7233');
  expect(config.databaseUrl).toBe('postgres://postgres:postgres@postgres:5432/sygedagpenge');
  expect(config.temporal.taskQueue).toBe(loadConfig({ DATABASE_URL: 'postgres://x/y' }).temporal.taskQueue);
});

test('worker and API agree on Temporal and the database; the API port is the config port', () => {
  const worker = loadConfig(compose.services.worker!.environment);
  const api = loadConfig(compose.services.api!.environment);
  expect(worker.temporal.namespace).toBe(api.temporal.namespace);
  expect(worker.temporal.taskQueue).toBe(api.temporal.taskQueue);
  expect(worker.databaseUrl).toBe(api.databaseUrl);
  expect(api.port).toBe(3000);
});

test('the image runs the built entry points of each role', () => {
  expect(compose.services.worker!.command).toEqual(['node', 'dist/worker/main.js']);
  expect(compose.services.api!.command).toEqual(['node', 'dist/api/main.js']);
  for (const entry of ['worker/main.ts', 'api/main.ts']) expect(existsSync(path.join(root, entry))).toBe(true);
  expect(readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toContain('RUN npm run build');
  // npm install's postinstall applies patches/npm (patch-package), so the patches must be in place before it.
  expect(readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toMatch(/COPY patches\/npm \.\/patches\/npm\nRUN npm install/);
});

test('the search attributes registered in compose are the workflow search attributes', () => {
  const command = String(compose.services['temporal-setup']!.command);
  const registered = [...command.matchAll(/--name (\w+) --type (\w+)/g)].map((m) => `${m[1]}=${m[2]}`);
  const expected = searchAttributeCliArgs().filter((a) => a !== '--search-attribute');
  expect(registered).toEqual(expected);
  expect(registered).toHaveLength(CASE_SEARCH_ATTRIBUTES.length);
});

/** The default of a version in scripts/lib/tools.sh: `NAME="${NAME:-1.2.3}"`. */
const toolsVersion = (name: string) => new RegExp(`^${name}="\\$\\{${name}:-([^}]+)\\}"$`, 'm').exec(readFileSync(path.join(root, 'scripts', 'lib', 'tools.sh'), 'utf8'))?.[1];

test('compose runs the Temporal server, admin tools and UI of the versions the cluster topology builds from Go modules', () => {
  expect(toolsVersion('TEMPORAL_SERVER_VERSION')).toBe(TEMPORAL_SERVER_VERSION);
  expect(toolsVersion('TEMPORAL_UI_SERVER_VERSION')).toBe(TEMPORAL_UI_VERSION);
  expect(compose.services.temporal!.image).toBe(`temporalio/server:${TEMPORAL_SERVER_VERSION}`);
  expect(compose.services['temporal-schema']!.image).toBe(`temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`);
  expect(compose.services['temporal-setup']!.image).toBe(`temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`);
  expect(compose.services['temporal-ui']!.image).toBe(`temporalio/ui:${TEMPORAL_UI_VERSION}`);
});

test("compose's Temporal reads the dynamic config file that holds the cluster's (and the dev server's) values", () => {
  const temporal = compose.services.temporal!;
  const mount = temporal.volumes!.map((v) => v.split(':')).find(([, inside]) => inside === temporal.environment!.DYNAMIC_CONFIG_FILE_PATH);
  expect(mount?.[0]).toBe('./platform/temporal-dynamic-config.yaml');
  const file = readFileSync(path.join(root, mount![0]!), 'utf8');
  expect(file).toBe(clusterDynamicConfigYaml());
  const values = Object.fromEntries(Object.entries(parse(file) as Record<string, { value: unknown }[]>).map(([key, [first]]) => [key, first!.value]));
  expect(values).toEqual(DEV_SERVER_DYNAMIC_CONFIG);
  expect(values['system.enableActivityEagerExecution']).toBe(true);
  expect(temporal.environment).toMatchObject({ DBNAME: TEMPORAL_DATABASES.persistence, VISIBILITY_DBNAME: TEMPORAL_DATABASES.visibility });
});

test('compose sets up the schemas with the same schema tool steps, in the same order, as the cluster topology', () => {
  const schema = compose.services['temporal-schema']!;
  const command = String(schema.command);
  const run = [...command.matchAll(/temporal-sql-tool ([^;|]+?)\s*(?:;|\|\||$)/g)].map((m) => m[1]!.trim());
  const expected = (['persistence', 'visibility'] as const).flatMap((kind) => schemaToolSteps(kind, '/etc/temporal/schema/postgresql/v12').map((step) => step.join(' ')));
  expect(run).toEqual(expected);
  expect(schema.environment).toMatchObject({ SQL_PLUGIN: 'postgres12', SQL_HOST: 'postgres' });
  expect(compose.services.temporal!.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
});

test('compose creates the namespace through the API with the retention the cluster topology gives it, and runs two workers', () => {
  expect(String(compose.services['temporal-setup']!.command)).toContain(`temporal operator namespace create --namespace default --retention ${NAMESPACE_RETENTION_DAYS * 24}h`);
  expect(compose.services.worker!.deploy?.replicas).toBe(2);
});
