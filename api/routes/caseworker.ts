import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { identifier } from '../../workflows/domain/schemas';
import { type ApiKey } from '../../platform/config';
import { allow, authenticate } from '../auth';
import { type CaseService } from '../case-service';
import { CASEWORKER_CSP, caseworkerPage } from '../caseworker-page';
import { ApiError, parse } from '../errors';

const caseIdParam = z.object({ caseId: identifier('caseId') });

/**
 * A browser cannot add `Authorization: Bearer` to a link opened from the Temporal UI, but it sends HTTP Basic
 * credentials by itself once asked: the page answers 401 with `WWW-Authenticate: Basic`, the browser asks
 * the caseworker once, and the API key is the password (any user name). The key is then checked exactly
 * as a bearer key (api/auth.ts), with the same roles.
 */
export function browserAuthentication(keys: ApiKey[]): RequestHandler {
  const bearer = authenticate(keys);
  return (req, res, next) => {
    const basic = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      req.headers.authorization = `Bearer ${decoded.slice(decoded.indexOf(':') + 1)}`;
    }
    try {
      bearer(req, res, next);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) res.set('WWW-Authenticate', 'Basic realm="Sygedagpenge: API-nøgle som adgangskode", charset="UTF-8"');
      throw err;
    }
  };
}

/** The caseworker's page of a case: what a case's details in the Temporal UI link to. */
export function caseworkerRouter(cases: CaseService, keys: ApiKey[], rateLimited: RequestHandler = (_req, _res, next) => next()): Router {
  const router = Router();
  router.use(browserAuthentication(keys));
  router.get('/cases/:caseId', rateLimited, allow('case-system', 'reader'), async (req, res) => {
    const { caseId } = parse(caseIdParam, req.params, 'path');
    // A key bound to municipalities sees their cases only; another's answers as an unknown case.
    const view = await cases.getCase(caseId, req.municipalities);
    res.set({ 'Content-Security-Policy': CASEWORKER_CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
    res.type('html').send(caseworkerPage(view));
  });
  return router;
}
