import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { createApp } from '../../api/app';
import { type Role } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { testKeyring } from '../support/servers';
import { startSystem, type TestSystem } from '../support/system';

/**
 * Issue #23, part 5: behind a TLS-terminating proxy the API is told so (API_TRUST_PROXY), and the codec
 * session cookie is then Secure; without it, a client's own X-Forwarded-Proto is not believed.
 */
let system: TestSystem;
let proxied: Server;
let proxiedBase: string;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'security-proxy' });
  const app = createApp({
    client: system.env.client,
    db: system.db,
    apiKeys: Object.entries(system.keys).map(([role, key]) => ({ role: role as Role, key })),
    temporal: { address: system.address, namespace: 'default', taskQueue: system.taskQueue, uiUrl: 'http://localhost:8233' },
    logger: createLogger('error', {}, () => undefined),
    trustProxy: 'loopback',
    codec: { keyring: testKeyring().keyring, corsOrigins: ['https://ui.example'] },
  });
  proxied = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  proxiedBase = `http://127.0.0.1:${(proxied.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => proxied?.close(resolve));
  await system?.stop();
});

const login = (base: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/codec/login`, { headers: { authorization: `Basic ${Buffer.from(`x:${system.keys.reader}`).toString('base64')}`, ...headers } });

test('behind a trusted proxy that terminated TLS, the session cookie is Secure (and SameSite=None, for a UI on another site)', async () => {
  const res = await login(proxiedBase, { 'x-forwarded-proto': 'https' });
  expect([res.status, res.headers.get('set-cookie')]).toEqual([200, expect.stringMatching(/^sfe_codec_session=\d+\.[\w-]{43}; Max-Age=28800; Path=\/codec; Expires=[^;]+; HttpOnly; Secure; SameSite=None$/)]);
  const out = await fetch(`${proxiedBase}/codec/logout`, { headers: { 'x-forwarded-proto': 'https' } });
  expect(out.headers.get('set-cookie')).toBe('sfe_codec_session=; Path=/codec; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=None');
});

test('without API_TRUST_PROXY a client claiming https is not believed: the cookie is not marked for a secure channel', async () => {
  const res = await login(system.base, { 'x-forwarded-proto': 'https' });
  expect([res.status, res.headers.get('set-cookie')]).toEqual([200, expect.stringMatching(/; HttpOnly; SameSite=Lax$/)]);
});
