import { type Client } from '@temporalio/client';
import { type Db } from '../../platform/db';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { eventually } from '../../dev/eventually';
import { type ApiCall } from './api';

/**
 * Waits until each case has finished its first workflow task: its first snapshot is in the read model (written
 * in that task, after the case asked the registry what was published since its copy), and visibility lists it. A
 * publication from then on reaches these cases by fan-out only.
 */
export async function settledCases({ db, client }: { db: Db; client: Client }, ids: string[]): Promise<void> {
  await eventually(
    () => db.query<{ n: string }>('SELECT count(*) AS n FROM cases WHERE case_id = ANY($1)', [ids]),
    (rows) => Number(rows[0]!.n) === ids.length,
    'first snapshots',
    300,
  );
  await eventually(
    async () => (await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: `CaseId IN (${ids.map((id) => `'${id}'`).join(',')})` })).count,
    (count) => Number(count) === ids.length,
    'cases visible',
  );
}

let opened = 0;

/**
 * Opens `count` cases through the API (POST /api/v1/cases, 20 at a time), each first absent `daysAgo` days ago,
 * named `<prefix>-<n>` unique in this test process, and waits until they have settled (settledCases). Every
 * answer must be 201. `fields` adds or overrides fields of the body.
 */
export async function openCases(
  system: { api: ApiCall; db: Db; client: Client },
  options: { prefix: string; count: number; municipality?: string; daysAgo?: number; fields?: Record<string, unknown> },
): Promise<string[]> {
  const run = Date.now().toString(36);
  const ids = Array.from({ length: options.count }, () => `${options.prefix}-${run}-${++opened}`);
  const today = copenhagenDate(Date.now());
  for (let from = 0; from < ids.length; from += 20) {
    const answers = await Promise.all(
      ids.slice(from, from + 20).map((caseId) =>
        system.api('POST', '/api/v1/cases', {
          caseId,
          citizenRef: `REF-${caseId}`,
          municipality: options.municipality ?? '101',
          firstAbsenceDay: addDays(today, -(options.daysAgo ?? 10)),
          ...options.fields,
        }),
      ),
    );
    const refused = answers.filter((a) => a.status !== 201);
    if (refused.length > 0) throw new Error(`opening cases: ${refused.length} of ${answers.length} answered ${refused[0]!.status}: ${JSON.stringify(refused[0]!.body)}`);
  }
  await settledCases(system, ids);
  return ids;
}
