import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../../platform/config';
import { CASE_SEARCH_ATTRIBUTES, searchAttributeCliArgs } from '../../workflows/search-attributes';
import { missingComposeKeys, writeComposeEnv } from '../../cli/compose-env';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../dev/dev-server';
import { clusterDynamicConfigYaml, COMPOSE_TLS_DIR, composeServerConfigYaml, TEMPORAL_DATABASES } from '../../dev/temporal-cluster/config';
import { NAMESPACE_RETENTION_DAYS } from '../../dev/temporal-cluster/namespace';
import { schemaToolSteps } from '../../dev/temporal-cluster/schema';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../dev/temporal-cluster/tools';
import { ensureTemporalCertificates, TEMPORAL_TLS_SERVER_NAME, type TemporalTlsFiles, temporalTlsFiles } from '../../platform/tls-certificates';

/** docker-compose.yml cannot run here (no Docker engine), so it is checked by parsing against the code. */
const root = path.resolve(__dirname, '..', '..');
const text = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
/** The file as docker compose reads it, with the `.env` that `npm run compose:env` writes. */
const dotEnv = Object.fromEntries(missingComposeKeys('').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
type Service = {
  image?: string;
  environment?: Record<string, string>;
  ports?: string[];
  command?: string[] | string;
  entrypoint?: string[];
  build?: string;
  depends_on?: unknown;
  volumes?: string[];
  deploy?: { replicas?: number };
  healthcheck?: { test: string[] };
};
const compose = parse(text.replace(/\$\{(\w+):\?[^}]*\}/g, (_m, name: string) => dotEnv[name] ?? '')) as { services: Record<string, Service>; volumes: Record<string, unknown> };

/** The certificate files as compose names them (in its volume), and real ones made here for the config module to read. */
const composeTls = temporalTlsFiles(COMPOSE_TLS_DIR);
let localTls: TemporalTlsFiles;
beforeAll(async () => {
  localTls = (await ensureTemporalCertificates(mkdtempSync(path.join(os.tmpdir(), 'sfe-compose-tls-')))).files;
});
afterAll(() => rmSync(localTls.dir, { recursive: true, force: true }));
/** A service's environment loaded by platform/config.ts, its certificate paths pointing at the files made here. */
const loadComposeConfig = (env: Record<string, string>) =>
  loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith(`${COMPOSE_TLS_DIR}/`) ? path.join(localTls.dir, path.basename(v)) : v])));
/** The Temporal server's config as compose mounts it. */
const serverConfigMount = () => {
  const temporal = compose.services.temporal!;
  const configDir = temporal.entrypoint![temporal.entrypoint!.indexOf('--config') + 1]!;
  const environment = temporal.entrypoint![temporal.entrypoint!.indexOf('--env') + 1]!;
  const inside = `/etc/temporal/${configDir}/${environment}.yaml`;
  const mount = temporal.volumes!.map((v) => v.split(':')).find(([, to]) => to === inside);
  return { file: mount?.[0], inside };
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
  expect(Object.keys(dotEnv).sort()).toEqual(['API_KEYS', 'METRICS_KEY', 'PAYLOAD_KEYS', 'POSTGRES_PASSWORD']);
  expect(loadComposeConfig(compose.services.api!.environment!).metricsKey).toBe(dotEnv.METRICS_KEY);
  expect(missingComposeKeys(`API_KEYS=x\nPAYLOAD_KEYS=y\nMETRICS_KEY=z\nPOSTGRES_PASSWORD=p\n`)).toEqual([]);
});

test('no password is written in the file: Postgres, the schema tool, Temporal and the engine take the one in .env', () => {
  const raw = parse(text) as typeof compose;
  const fromDotEnv = /^\$\{POSTGRES_PASSWORD:\?.+\}$/;
  const passwords = Object.entries(raw.services).flatMap(([name, service]) =>
    Object.entries(service.environment ?? {})
      .filter(([key]) => /PASSWORD|PWD/.test(key))
      .map(([key, value]) => [`${name}.${key}`, value] as const),
  );
  expect(passwords.map(([where]) => where).sort()).toEqual(['postgres.POSTGRES_PASSWORD', 'temporal-schema.SQL_PASSWORD', 'temporal.POSTGRES_PASSWORD']);
  for (const [, value] of passwords) expect(value).toMatch(fromDotEnv);
  for (const name of ['worker', 'api']) {
    expect(raw.services[name]!.environment!.DATABASE_URL).toMatch(/^postgres:\/\/postgres:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/sygedagpenge$/);
    expect(loadComposeConfig(compose.services[name]!.environment!).databaseUrl).toBe(`postgres://postgres:${dotEnv.POSTGRES_PASSWORD}@postgres:5432/sygedagpenge`);
  }
  expect(text).not.toMatch(/postgres:postgres@|PASSWORD: postgres|PWD: postgres/);
  // The server's config renders the password from its container's environment at start.
  const stores = (parse(composeServerConfigYaml()) as { persistence: { datastores: Record<string, { sql: { password: string } }> } }).persistence.datastores;
  expect(Object.values(stores).map((s) => s.sql.password)).toEqual(['{{ env "POSTGRES_PASSWORD" }}', '{{ env "POSTGRES_PASSWORD" }}']);
  expect(composeServerConfigYaml().split('\n')[0]).toContain('enable-template');
  expect(dotEnv.POSTGRES_PASSWORD).toMatch(/^[A-Za-z0-9_-]{32}$/);
});

test('npm run compose:env leaves .env at mode 0600 whatever mode it had, keeping what it held', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-compose-env-'));
  const file = path.join(dir, '.env');
  try {
    writeFileSync(file, 'API_KEYS=kept\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(writeComposeEnv(file)).toEqual(['PAYLOAD_KEYS', 'METRICS_KEY', 'POSTGRES_PASSWORD']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^API_KEYS=kept\nPAYLOAD_KEYS=.+\nMETRICS_KEY=.+\nPOSTGRES_PASSWORD=.+\n$/);
    // Nothing to add: the mode is put right all the same.
    chmodSync(file, 0o664);
    expect(writeComposeEnv(file)).toEqual([]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    rmSync(file);
    expect(writeComposeEnv(file)).toEqual(['API_KEYS', 'PAYLOAD_KEYS', 'METRICS_KEY', 'POSTGRES_PASSWORD']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the UI decodes through the API codec server, which lets that UI origin call it', () => {
  const ui = compose.services['temporal-ui']!.environment!;
  expect(ui.TEMPORAL_CODEC_ENDPOINT).toBe(`http://localhost:${compose.services.api!.environment!.PORT}/codec`);
  expect(ui.TEMPORAL_CODEC_INCLUDE_CREDENTIALS).toBe('true');
  // The UI holds the client certificate and has no sign-in: it may not change cases.
  expect(ui.TEMPORAL_DISABLE_WRITE_ACTIONS).toBe('true');
  const api = loadComposeConfig(compose.services.api!.environment!);
  expect(api.codecCorsOrigins).toEqual(['http://localhost:8233']);
  expect(api.payloadKeyring?.keys.size).toBe(1);
  expect(loadComposeConfig(compose.services.worker!.environment!).payloadKeyring?.currentKeyId).toBe(api.payloadKeyring?.currentKeyId);
});

test('the services are Temporal on Postgres, its certificates, the Temporal UI, Postgres, the worker and the API', () => {
  expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'temporal', 'temporal-certs', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
  const stores = (parse(composeServerConfigYaml()) as { persistence: { datastores: Record<string, { sql: { pluginName: string; connectAddr: string } }> } }).persistence.datastores;
  expect(Object.values(stores).map((s) => [s.sql.pluginName, s.sql.connectAddr])).toEqual([
    ['postgres12', 'postgres:5432'],
    ['postgres12', 'postgres:5432'],
  ]);
});

test('only the API and the UI are published (the UI on the loopback: it has no sign-in); Postgres and Temporal stay on the internal network', () => {
  const published = Object.entries(compose.services).filter(([, service]) => service.ports);
  expect(published.map(([name]) => name).sort()).toEqual(['api', 'temporal-ui']);
  expect(compose.services['temporal-ui']!.ports).toEqual(['127.0.0.1:8233:8080']);
  expect(compose.services.api!.ports).toEqual([`${compose.services.api!.environment!.PORT}:3000`]);
  expect(text).not.toMatch(/^\s*expose:/m);
});

test.each(['worker', 'api'])('the %s uses only variables the config module reads, and they load', (name) => {
  const env = compose.services[name]!.environment!;
  for (const key of Object.keys(env)) expect(Object.keys(ENVIRONMENT_VARIABLES)).toContain(key);
  const config = loadComposeConfig(env);
  expect(config.temporal.address).toBe('temporal:7233');
  expect(config.databaseUrl).toBe(`postgres://postgres:${dotEnv.POSTGRES_PASSWORD}@postgres:5432/sygedagpenge`);
  expect(config.temporal.taskQueue).toBe(loadConfig({ DATABASE_URL: 'postgres://x/y' }).temporal.taskQueue);
});

test('mutual TLS: the certificates are made once into a volume; the frontend requires a client certificate, and the worker, API, UI, setup and health check present one', () => {
  // Made by the engine's own script into the volume, before Temporal starts.
  const certs = compose.services['temporal-certs']!;
  expect(certs.command).toEqual(['node', 'dist/cli/temporal-certificates.js', COMPOSE_TLS_DIR]);
  expect(existsSync(path.join(root, 'cli', 'temporal-certificates.ts'))).toBe(true);
  expect(certs.volumes).toEqual([`temporal-tls:${COMPOSE_TLS_DIR}`]);
  expect(compose.volumes).toHaveProperty('temporal-tls');
  expect(readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toContain(`mkdir -p ${COMPOSE_TLS_DIR} && chown node:node ${COMPOSE_TLS_DIR}`);
  expect(compose.services.temporal!.depends_on).toMatchObject({ 'temporal-certs': { condition: 'service_completed_successfully' } });
  for (const name of ['temporal', 'temporal-setup', 'temporal-ui', 'worker', 'api']) {
    expect(compose.services[name]!.volumes).toContain(`temporal-tls:${COMPOSE_TLS_DIR}:ro`);
  }

  // The server: the config the cluster topology runs, with the frontend asking every client for a certificate of the CA.
  const { file } = serverConfigMount();
  expect(file).toBe('./deploy/temporal-server-compose.yaml');
  expect(readFileSync(path.join(root, file!), 'utf8')).toBe(composeServerConfigYaml());
  const tls = (parse(composeServerConfigYaml()) as { global: { tls: { frontend: { server: Record<string, unknown> }; systemWorker: Record<string, unknown> } } }).global.tls;
  expect(tls.frontend.server).toEqual({ certFile: composeTls.serverCert, keyFile: composeTls.serverKey, clientCaFiles: [composeTls.ca], requireClientAuth: true });
  expect(tls.systemWorker).toMatchObject({ certFile: composeTls.clientCert, keyFile: composeTls.clientKey });
  const health = compose.services.temporal!.healthcheck!.test.join(' ');
  expect(health).toContain(`--tls-ca-path ${composeTls.ca} --tls-cert-path ${composeTls.clientCert} --tls-key-path ${composeTls.clientKey} --tls-server-name ${TEMPORAL_TLS_SERVER_NAME}`);

  // The setup's CLI: every command it runs against Temporal presents the client certificate.
  const setup = String(compose.services['temporal-setup']!.command);
  expect(setup).toContain(`tls="--tls-ca-path ${composeTls.ca} --tls-cert-path ${composeTls.clientCert} --tls-key-path ${composeTls.clientKey} --tls-server-name ${TEMPORAL_TLS_SERVER_NAME}"`);
  const operatorCalls = [...setup.matchAll(/temporal operator (\S+ \S+) (\S+)/g)];
  expect(operatorCalls.length).toBe(4);
  for (const call of operatorCalls) expect(call[2]).toBe('$$tls');

  // The worker and the API: platform/config.ts reads the files and verifies the frontend by its name.
  for (const name of ['worker', 'api']) {
    const config = loadComposeConfig(compose.services[name]!.environment!);
    expect(config.temporal.tls).toEqual({
      serverName: TEMPORAL_TLS_SERVER_NAME,
      ca: readFileSync(localTls.ca),
      clientCert: { crt: readFileSync(localTls.clientCert), key: readFileSync(localTls.clientKey) },
    });
  }
  // The UI (the ui-server image's TEMPORAL_TLS_* variables), verifying the frontend's certificate.
  expect(compose.services['temporal-ui']!.environment).toMatchObject({
    TEMPORAL_TLS_CA: composeTls.ca,
    TEMPORAL_TLS_CERT: composeTls.clientCert,
    TEMPORAL_TLS_KEY: composeTls.clientKey,
    TEMPORAL_TLS_SERVER_NAME: TEMPORAL_TLS_SERVER_NAME,
    TEMPORAL_TLS_ENABLE_HOST_VERIFICATION: 'true',
  });
});

test('worker and API agree on Temporal and the database; the API port is the config port', () => {
  const worker = loadComposeConfig(compose.services.worker!.environment!);
  const api = loadComposeConfig(compose.services.api!.environment!);
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

/** The default of a version in dev/tools/go.sh: `NAME="${NAME:-1.2.3}"`. */
const toolsVersion = (name: string) => new RegExp(`^${name}="\\$\\{${name}:-([^}]+)\\}"$`, 'm').exec(readFileSync(path.join(root, 'dev', 'tools', 'go.sh'), 'utf8'))?.[1];

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
  const server = parse(composeServerConfigYaml()) as { dynamicConfigClient: { filepath: string }; persistence: { datastores: Record<string, { sql: { databaseName: string } }> } };
  const mount = temporal.volumes!.map((v) => v.split(':')).find(([, inside]) => inside === server.dynamicConfigClient.filepath);
  expect(mount?.[0]).toBe('./deploy/temporal-dynamic-config.yaml');
  const file = readFileSync(path.join(root, mount![0]!), 'utf8');
  expect(file).toBe(clusterDynamicConfigYaml());
  const values = Object.fromEntries(Object.entries(parse(file) as Record<string, { value: unknown }[]>).map(([key, [first]]) => [key, first!.value]));
  expect(values).toEqual(DEV_SERVER_DYNAMIC_CONFIG);
  expect(values['system.enableActivityEagerExecution']).toBe(true);
  expect(Object.values(server.persistence.datastores).map((s) => s.sql.databaseName)).toEqual([TEMPORAL_DATABASES.persistence, TEMPORAL_DATABASES.visibility]);
});

test('compose sets up the schemas with the same schema tool steps, in the same order, as the cluster topology', () => {
  const schema = compose.services['temporal-schema']!;
  const command = String(schema.command);
  const run = [...command.matchAll(/temporal-sql-tool ([^;|]+?)\s*(?:;|\|\||$)/g)].map((m) => m[1]!.trim());
  const expected = (['persistence', 'visibility'] as const).flatMap((kind) => schemaToolSteps(kind, '/etc/temporal/schema/postgresql/v12').map((step) => step.join(' ')));
  expect(run).toEqual(expected);
  expect(schema.environment).toMatchObject({ SQL_PLUGIN: 'postgres12', SQL_HOST: 'postgres' });
  expect(compose.services.temporal!.depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
});

test('compose creates the namespace through the API with the retention the cluster topology gives it, and runs two workers', () => {
  expect(String(compose.services['temporal-setup']!.command)).toContain(`temporal operator namespace create $$tls --namespace default --retention ${NAMESPACE_RETENTION_DAYS * 24}h`);
  expect(compose.services.worker!.deploy?.replicas).toBe(2);
});
