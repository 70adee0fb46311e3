import { stringify } from 'csv-stringify/sync';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { copenhagenDate } from '../../workflows/domain/dates';
import { isoDate, municipalityCode } from '../../workflows/domain/schemas';
import { DEADLINE_KINDS } from '../../workflows/domain/types';
import { allow } from '../auth';
import { ApiError, parse } from '../errors';
import { type Reports } from '../reports';

const kind = z.enum(DEADLINE_KINDS);
/** Rows per answer; `total` still counts all. */
const limit = z.coerce.number().int().min(1).max(10_000).default(1_000);
const period = { from: isoDate, to: isoDate };
const fromBeforeTo = (q: { from: string; to: string }) => q.from <= q.to;

export const reportQuerySchemas = {
  overdue: z.object({ municipality: municipalityCode.optional(), kind: kind.optional(), asOf: isoDate.optional(), limit }).strict(),
  upcoming: z
    .object({
      days: z.coerce.number().int().min(1).max(366).default(14),
      municipality: municipalityCode.optional(),
      kind: kind.optional(),
      asOf: isoDate.optional(),
      limit,
    })
    .strict(),
  timeliness: z
    .object({ ...period, municipality: municipalityCode.optional(), asOf: isoDate.optional() })
    .strict()
    .refine(fromBeforeTo, { message: 'from must not be after to', path: ['to'] }),
  conversationModes: z
    .object({ ...period, municipality: municipalityCode.optional() })
    .strict()
    .refine(fromBeforeTo, { message: 'from must not be after to', path: ['to'] }),
};

const ROW_COLUMNS = {
  overdue: ['caseId', 'municipality', 'deadlineId', 'kind', 'dueDate', 'daysOverdue'],
  upcoming: ['caseId', 'municipality', 'deadlineId', 'kind', 'dueDate', 'status', 'mode'],
};

/** Sends a report as JSON, or as CSV when the client asks for text/csv (rows, or metric,value pairs). */
export function sendReport(req: Request, res: Response, report: Record<string, unknown>, rowColumns?: string[]): void {
  if (req.accepts(['application/json', 'text/csv']) !== 'text/csv') {
    res.json(report);
    return;
  }
  res.type('text/csv; charset=utf-8').send(reportCsv(report, rowColumns));
}

/**
 * A report as CSV (RFC 4180, CRLF): its rows under `rowColumns`, or, for a report without rows, one
 * metric,value line per figure. A text cell that a spreadsheet would run as a formula (beginning with
 * =, +, -, @, tab or CR) gets a leading apostrophe (OWASP, CSV injection); numbers stay numbers, so -3 is -3.
 */
export function reportCsv(report: Record<string, unknown>, rowColumns?: string[]): string {
  const rows: Record<string, unknown>[] = Array.isArray(report.rows)
    ? (report.rows as Record<string, unknown>[])
    : flatten(report).map(([metric, value]) => ({ metric, value }));
  return stringify(rows, {
    header: true,
    columns: rowColumns ?? ['metric', 'value'],
    record_delimiter: 'windows',
    // With a record delimiter set, the library would quote only cells containing \r\n; a lone \n or \r
    // in a cell must be quoted too, or a reader splits the record there.
    quote_record_delimiter: true,
    escape_formulas: true,
    cast: { boolean: (value) => String(value) },
  });
}

function flatten(value: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(value).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v) ? flatten(v as Record<string, unknown>, `${prefix}${k}.`) : [[`${prefix}${k}`, Array.isArray(v) ? JSON.stringify(v) : v] as [string, unknown]],
  );
}

/**
 * A report's filter with the key's reach: a bound key's report counts its municipalities only (filtered in
 * SQL), and asking for another municipality is refused with 403 (the caller named it; codes are public).
 */
function withReach<Q extends { municipality?: string }>(req: Request, q: Q): Q & { reach?: readonly string[] } {
  const reach = req.municipalities;
  if (reach && q.municipality !== undefined && !reach.includes(q.municipality)) {
    throw new ApiError(403, 'municipality-not-allowed', `This key reads reports of ${reach.join(', ')} only, not of ${q.municipality}`, [
      { field: 'query.municipality', problem: `not one of the key's municipalities (${reach.join(', ')})` },
    ]);
  }
  return reach ? { ...q, reach } : q;
}

/** Reports for managers and the state, from the read model. */
export function reportsRouter(reports: Reports, today: () => string = () => copenhagenDate(Date.now())): Router {
  const router = Router();
  router.use(allow('reader'));
  router.get('/overdue', async (req, res) => {
    const q = withReach(req, parse(reportQuerySchemas.overdue, req.query, 'query'));
    sendReport(req, res, await reports.overdue(q.asOf ?? today(), q), ROW_COLUMNS.overdue);
  });
  router.get('/upcoming', async (req, res) => {
    const q = withReach(req, parse(reportQuerySchemas.upcoming, req.query, 'query'));
    sendReport(req, res, await reports.upcoming(q.asOf ?? today(), q.days, q), ROW_COLUMNS.upcoming);
  });
  router.get('/timeliness', async (req, res) => {
    const q = withReach(req, parse(reportQuerySchemas.timeliness, req.query, 'query'));
    sendReport(req, res, await reports.timeliness(q.from, q.to, q.asOf ?? today(), q));
  });
  router.get('/conversation-modes', async (req, res) => {
    const q = withReach(req, parse(reportQuerySchemas.conversationModes, req.query, 'query'));
    sendReport(req, res, await reports.conversationModes(q.from, q.to, q));
  });
  return router;
}
