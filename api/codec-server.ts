import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseCookie } from 'cookie';
import { type Request, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { type Payload } from '@temporalio/common';
import { type ApiKey, type Role } from '../platform/config';
import { EncryptionCodec, type Keyring } from '../platform/payload-codec';
import { allow } from './auth';
import { jsonBody } from './bodies';
import { ApiError, parse } from './errors';
import { browserAuthentication } from './routes/caseworker';

/**
 * The codec server of the Temporal UI and CLI (Temporal's remote codec protocol): `POST /codec/decode` and
 * `POST /codec/encode` take `{ payloads: [{ metadata: { name: base64 }, data: base64 }] }` and answer the
 * same shape, decrypted or encrypted with the engine's keyring (platform/payload-codec.ts). Temporal's store
 * holds ciphertext only; whoever shows a case in clear goes through here, with a key.
 *
 * Who may call it:
 *  - a client with `Authorization: Bearer <API key>` of role case-system or reader: the CLI
 *    (`temporal workflow show --codec-endpoint … --codec-auth 'Bearer <key>'`) or a UI that passes its
 *    user's token;
 *  - a browser signed in at `GET /codec/login` (HTTP Basic, the API key as password, as the caseworker
 *    page): it gets a session cookie, sent by the Temporal UI when its codec setting includes credentials.
 * Browsers may call it only from the UI origins in CODEC_CORS_ORIGINS. A preflight needs no key (browsers
 * send none), and answers nothing but the CORS headers.
 */
export interface CodecServerOptions {
  keyring: Keyring;
  /** Browser origins allowed to call (the Temporal UI's). */
  corsOrigins: string[];
  namespace: string;
  keys: ApiKey[];
  /** The API's per-key rate limit, counted once the caller is known. */
  rateLimited?: RequestHandler;
  /** How long a browser session lasts (default 8 hours: a working day). */
  sessionSeconds?: number;
}

/** The most bytes of one codec request: a page of a long case's history (the OpenAPI document states it). */
export const CODEC_BODY_BYTES = 8 * 1024 * 1024;
export const CODEC_SESSION_COOKIE = 'sfe_codec_session';
const READ_ROLES: Role[] = ['case-system', 'reader'];

const base64 = z.string().max(4 * 1024 * 1024).regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const payloadsBody = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string().max(256), base64).optional(), data: base64.optional() }).strict())
    .max(10_000, 'at most 10,000 payloads a request'),
});

const fromJson = ({ metadata, data }: { metadata?: Record<string, string>; data?: string }): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(data ?? '', 'base64'),
});
const toJson = ({ metadata, data }: Payload) => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(data ?? new Uint8Array()).toString('base64'),
});

/** `<expiry>.<mac>`: the MAC is keyed by a digest of the API key, so a session ends when its key is removed, on every instance. */
function sessionMac(apiKey: string, expires: number): Buffer {
  return createHmac('sha256', createHash('sha256').update(`codec-session:${apiKey}`).digest()).update(String(expires)).digest();
}

export function codecServer(options: CodecServerOptions): Router {
  // It shows operators what Temporal holds, so a plaintext payload someone put there is shown as it is.
  const codec = new EncryptionCodec(options.keyring, 'pass');
  const sessionSeconds = options.sessionSeconds ?? 8 * 3600;
  const origins = new Set(options.corsOrigins);
  const router = Router();

  // CORS for the Temporal UI: the exact origin (never *), credentials allowed, the headers the UI sends.
  router.use((req, res, next) => {
    const origin = req.get('origin');
    if (origin && origins.has(origin)) {
      res.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization, Authorization-Extras',
        'Access-Control-Max-Age': '600',
      });
    }
    res.vary('Origin');
    if (req.method === 'OPTIONS') {
      if (!origin || !origins.has(origin)) throw new ApiError(403, 'origin-not-allowed', `The origin ${origin ?? '(none)'} may not call the codec server; CODEC_CORS_ORIGINS lists those that may`);
      res.status(204).end();
      return;
    }
    // A browser on another origin would be refused by its own CORS check; refusing here keeps its request from doing any work.
    if (origin && !origins.has(origin) && origin !== `${req.protocol}://${req.get('host')}`) {
      throw new ApiError(403, 'origin-not-allowed', `The origin ${origin} may not call the codec server; CODEC_CORS_ORIGINS lists those that may`);
    }
    next();
  });

  const byBrowserSession: RequestHandler = (req, _res, next) => {
    if (req.get('authorization')) return next();
    const cookie = parseCookie(req.get('cookie') ?? '')[CODEC_SESSION_COOKIE];
    const match = cookie ? /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(cookie) : null;
    if (!match) return next();
    const expires = Number(match[1]);
    if (expires * 1000 < Date.now()) return next();
    const presented = Buffer.from(match[2]!, 'base64url');
    let found: number | undefined;
    options.keys.forEach((k, i) => {
      if (timingSafeEqual(sessionMac(k.key, expires), presented) && found === undefined) found = i;
    });
    if (found !== undefined) req.headers.authorization = `Bearer ${options.keys[found]!.key}`;
    next();
  };

  const namespaceCheck: RequestHandler = (req, _res, next) => {
    // The Temporal CLI sends an empty X-Namespace; the UI sends the namespace it shows.
    const namespace = req.get('x-namespace');
    if (namespace && namespace !== options.namespace) {
      throw new ApiError(403, 'wrong-namespace', `This codec server holds the keys of namespace ${options.namespace}, not ${namespace}`);
    }
    next();
  };

  /** A key bound to municipalities reads only its own cases; the UI shows every case of the namespace, so it may not decode here. */
  const nationalOnly: RequestHandler = (req, _res, next) => {
    if (boundMunicipalities(req, options.keys)) {
      throw new ApiError(403, 'national-key-required', 'A key bound to municipalities cannot decode in the Temporal UI, which lists every municipality; read cases through the API or the caseworker page');
    }
    next();
  };

  const limited = options.rateLimited ? [options.rateLimited] : [];
  router.get('/login', browserAuthentication(options.keys), ...limited, allow(...READ_ROLES), nationalOnly, (req, res) => {
    const key = keyOf(req, options.keys)!;
    const expires = Math.floor(Date.now() / 1000) + sessionSeconds;
    const secure = req.secure;
    res.cookie(CODEC_SESSION_COOKIE, `${expires}.${sessionMac(key.key, expires).toString('base64url')}`, {
      httpOnly: true,
      path: '/codec',
      maxAge: sessionSeconds * 1000,
      // Same site (the UI and the API on one host, or one registrable domain): Lax is enough; over HTTPS the
      // UI may be on another site, and then the cookie must be None and Secure to be sent.
      sameSite: secure ? 'none' : 'lax',
      secure,
    });
    res.set('Cache-Control', 'no-store');
    res
      .type('html')
      .send(
        '<!doctype html><html lang="da"><meta charset="utf-8"><title>Codec-server</title>' +
          `<p>Du er logget ind på codec-serveren til ${new Date(expires * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC. ` +
          'Temporal UI kan nu vise sagernes indhold i klar tekst.</p></html>',
      );
  });

  // Ends the browser's session: the cookie is cleared with the attributes it was set with. Open, like any
  // sign-out link: it can only remove the caller's own cookie.
  router.get('/logout', (req, res) => {
    const secure = req.secure;
    res.clearCookie(CODEC_SESSION_COOKIE, { httpOnly: true, path: '/codec', sameSite: secure ? 'none' : 'lax', secure });
    res.set('Cache-Control', 'no-store');
    res
      .type('html')
      .send('<!doctype html><html lang="da"><meta charset="utf-8"><title>Codec-server</title><p>Du er logget ud af codec-serveren. Temporal UI viser nu sagernes indhold krypteret.</p></html>');
  });

  const guarded = [byBrowserSession, browserAuthentication(options.keys), ...limited, allow(...READ_ROLES), nationalOnly, namespaceCheck];
  // The body is read only once the caller is known (a history's payloads are larger than any API request).
  const body = jsonBody(CODEC_BODY_BYTES);
  router.post('/decode', ...guarded, body, async (req, res) => {
    const { payloads } = parse(payloadsBody, req.body);
    let decoded: Payload[];
    try {
      decoded = await codec.decode(payloads.map(fromJson));
    } catch (err) {
      throw new ApiError(422, 'undecodable', err instanceof Error ? err.message : 'a payload could not be decrypted');
    }
    res.set('Cache-Control', 'no-store').json({ payloads: decoded.map(toJson) });
  });
  router.post('/encode', ...guarded, body, async (req, res) => {
    const { payloads } = parse(payloadsBody, req.body);
    const encoded = await codec.encode(payloads.map(fromJson));
    res.set('Cache-Control', 'no-store').json({ payloads: encoded.map(toJson) });
  });
  return router;
}

/** The key that authenticated the request (api/auth.ts sets `keyId` to `role#position`). */
function keyOf(req: Request, keys: ApiKey[]): ApiKey | undefined {
  return keys[Number(req.keyId?.split('#')[1])];
}

function boundMunicipalities(req: Request, keys: ApiKey[]): boolean {
  const key = keyOf(req, keys);
  const municipalities = (key as { municipalities?: readonly string[] } | undefined)?.municipalities;
  return Boolean(municipalities && municipalities.length > 0);
}
