import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, type Frame, type Page } from 'puppeteer-core';
import { deadlineLabel, STATUS_DA } from '../../workflows/case-details';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type Deadline, type PolicyRevision, type Timeline } from '../../workflows/domain/types';
import { caseWorkflowId } from '../../workflows/messages';
import { ENCRYPTED_ENCODING } from '../../platform/payload-codec';
import { eventually } from '../support/system';
import { launchBrowser, SCREENSHOT_DIR, startSystemWithUi, type UiSystem } from './support';

/** How the UI shows a payload it could not decode: its encoding metadata, base64 as in the API's JSON. */
const ENCRYPTED_IN_UI = Buffer.from(ENCRYPTED_ENCODING).toString('base64');

/**
 * What a caseworker sees, in headless Chromium: the Temporal Web UI 2.42.1 as the dev server serves it
 * (a case's summary, current details and timers; the Overdue filter), and the caseworker page the details
 * link to, with the timeline picture. Screenshots go to test-results/screenshots/ for a reviewer.
 */
jest.setTimeout(240_000);

// The callbacks below run in the page (puppeteer serialises them); the project compiles without the DOM
// library, so `document` is declared here, for this file only.
declare const document: any;
declare const localStorage: any;

let system: UiSystem;
let browser: Browser;
const today = copenhagenDate(Date.now());
const run = Date.now().toString(36).toUpperCase();
const id = (name: string) => `BR-${run}-${name}`;
const cases = {
  overdue1: { caseId: id('OVER-1'), citizenRef: 'REF-BROWSER-1', municipality: '101', firstAbsenceDay: addDays(today, -70), employment: 'employee' },
  overdue2: { caseId: id('OVER-2'), citizenRef: 'REF-BROWSER-2', municipality: '101', firstAbsenceDay: addDays(today, -90), employment: 'employee' },
  fresh: { caseId: id('FRESH'), citizenRef: 'REF-BROWSER-3', municipality: '101', firstAbsenceDay: today, employment: 'employee' },
  closed: { caseId: id('CLOSED'), citizenRef: 'REF-BROWSER-4', municipality: '101', firstAbsenceDay: addDays(today, -20), employment: 'employee' },
  elsewhere: { caseId: id('OVER-147'), citizenRef: 'REF-BROWSER-5', municipality: '147', firstAbsenceDay: addDays(today, -80), employment: 'employee' },
  paused: { caseId: id('PAUSED'), citizenRef: 'REF-BROWSER-6', municipality: '461', firstAbsenceDay: addDays(today, -40), employment: 'employee' },
  jobClarification: { caseId: id('JOB'), citizenRef: 'REF-BROWSER-7', municipality: '851', firstAbsenceDay: addDays(today, -250), employment: 'employee' },
};
const citizenRefs = Object.values(cases).map((c) => c.citizenRef);
const { publications: publications2020 } = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'policies-2020.json'), 'utf8')) as { publications: { policy: PolicyRevision }[] };
const shot = (name: string) => path.join(SCREENSHOT_DIR, `${name}.png`);

/**
 * What a caseworker does once to read cases in the UI (README, Payload encryption): signs in at the codec
 * server with their key (the browser asks; the key is the password), and in the UI's Codec Server settings
 * ticks "include cross-origin credentials", which `npm run dev`'s UI cannot preset. The UI then sends the
 * session cookie with every decode request.
 */
async function signInToCodec(where: Browser | BrowserContext): Promise<void> {
  const page = await where.newPage();
  await page.authenticate({ username: 'sagsbehandler', password: system.keys.reader });
  expect((await page.goto(`${system.base}/codec/login`, { waitUntil: 'load' }))!.status()).toBe(200);
  await page.goto(system.ui, { waitUntil: 'load' });
  await page.evaluate((endpoint: string) => {
    localStorage.setItem('endpoint', JSON.stringify(endpoint));
    localStorage.setItem('includeCredentials', 'true');
    localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
  }, `${system.base}/codec`);
  await page.close();
}

beforeAll(async () => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  [system, browser] = await Promise.all([startSystemWithUi('browser-view'), launchBrowser()]);
  await signInToCodec(browser);
  const ok = (r: { status: number; body: any }, what: string) => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  ok(
    await system.api('POST', '/api/v1/policy-changes', {
      policyId: 'odense-pause',
      revision: 1,
      title: 'Opfølgning i bero (Odense)',
      effectiveFrom: addDays(today, -10),
      scope: { type: 'municipalities', municipalities: ['461'] },
      effects: [{ type: 'pauseDeadlines' }],
    }),
    'policy',
  );
  for (const c of Object.values(cases)) ok(await system.api('POST', '/api/v1/cases', c), c.caseId);
  const event = async (c: { caseId: string }, body: Record<string, unknown>) => ok(await system.api('POST', `/api/v1/cases/${c.caseId}/events`, body), `${c.caseId} ${String(body.type)}`);
  await event(cases.overdue2, { eventId: 'cert', type: 'certificate-requested', occurredOn: addDays(today, -40) });
  await event(cases.closed, { eventId: 'end', type: 'recovered', occurredOn: addDays(today, -1) });
  await event(cases.jobClarification, { eventId: 'c1', type: 'conversation-held', occurredOn: addDays(today, -200), mode: 'in-person', category: 2 });
  await event(cases.jobClarification, { eventId: 'jc', type: 'reassessment-decided', occurredOn: addDays(today, -5), outcome: 'job-clarification' });
  // The paused case got the pause from the registry at its start (or from the fan-out): wait until it holds it.
  await eventually(
    () => system.api('GET', `/api/v1/cases/${cases.paused.caseId}`),
    (r) => r.body.deadlines?.some((d: Deadline) => d.status === 'paused'),
    'the paused case holds the pause',
  );
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await system?.stop();
});

test('without signing in to the codec server the UI shows the case, but nothing of it in clear', async () => {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.goto(`${system.ui}/namespaces/default/workflows/${encodeURIComponent(caseWorkflowId(cases.paused.caseId))}`, { waitUntil: 'load' });
  await page.waitForSelector('a[href$="/user-metadata"]', { timeout: 60_000 });
  await new Promise((r) => setTimeout(r, 2_000));
  const text: string = await page.$eval('main', (m: any) => m.innerText);
  await page.screenshot({ path: shot('ui-without-codec-session'), fullPage: true });
  expect(text).toContain(caseWorkflowId(cases.paused.caseId));
  for (const clear of [cases.paused.citizenRef, 'Sygedagpengesag', 'Opfølgning i bero', 'opfølgningssamtale']) expect({ clear, shown: text.includes(clear) }).toEqual({ clear, shown: false });
  await context.close();
});

test('signed in, the History tab shows the input and the events in clear, decoded by the codec server', async () => {
  const page = await browser.newPage();
  await page.goto(`${system.ui}/namespaces/default/workflows/${encodeURIComponent(caseWorkflowId(cases.jobClarification.caseId))}`, { waitUntil: 'load' });
  // The UI decodes the events' payloads one request after another: on a loaded machine the first (the input,
  // with the citizen reference) can be in clear while later ones still show their encoding. Waited for, bounded.
  const decoded = await page
    .waitForFunction(
      (ref: string, encoding: string) => {
        const shown = document.querySelector('main')?.innerText ?? '';
        return shown.includes(ref) && !shown.includes(encoding);
      },
      { timeout: 60_000 },
      cases.jobClarification.citizenRef,
      ENCRYPTED_IN_UI,
    )
    .then(() => true, () => false);
  const text: string = await page.$eval('main', (m: any) => m.innerText);
  await page.screenshot({ path: shot('ui-with-codec-session'), fullPage: true });
  expect({ decoded, text }).toMatchObject({ decoded: true });
  expect(text).not.toContain('Codec Server could not connect');
  expect(text).toContain(`"caseId": "${cases.jobClarification.caseId}"`);
  expect(text).toContain('"municipality": "851"');
  expect(text).not.toContain('binary/encrypted');
  expect(text).not.toContain(ENCRYPTED_IN_UI);
  await page.close();
});

const timelineOf = async (caseId: string): Promise<Timeline> => (await system.api('GET', `/api/v1/cases/${caseId}`, undefined, 'reader')).body;

/** The markdown panels of a case's "User Metadata" tab, each a frame the UI renders on its server (/render). */
async function openCase(page: Page, caseId: string): Promise<{ summary: Frame; details: Frame; current: Frame }> {
  await page.goto(`${system.ui}/namespaces/default/workflows/${encodeURIComponent(caseWorkflowId(caseId))}`, { waitUntil: 'load' });
  await (await page.waitForSelector('a[href$="/user-metadata"]', { timeout: 60_000 }))!.click();
  const frameWith = async (marker: string): Promise<Frame> => {
    const handle = await page.waitForFunction(
      (m: string) => [...document.querySelectorAll('iframe[src^="/render"]')].find((f: any) => new URL(f.src).searchParams.get('content')?.startsWith(m)),
      { timeout: 60_000 },
      marker,
    );
    const frame = await (handle as unknown as { contentFrame(): Promise<Frame> }).contentFrame();
    await frame.waitForSelector('main > *', { timeout: 30_000 });
    return frame;
  };
  const [summary, details, current] = [await frameWith('Sygedagpengesag'), await frameWith('- Ansættelse'), await frameWith('**Sag ')];
  // The UI sizes each frame once it has loaded; give it that moment before looking.
  await new Promise((r) => setTimeout(r, 500));
  return { summary, details, current };
}

/** What the current details frame shows: each list item's text and top, and whether anything is cut off. */
async function readDetails(frame: Frame) {
  const frameHeight = await (await frame.frameElement())!.evaluate((el) => el.getBoundingClientRect().height);
  const seen = await frame.evaluate(() => {
    const items = [...document.querySelectorAll('li')].map((li) => ({ text: li.textContent!.replace(/\s+/g, ' ').trim(), top: li.getBoundingClientRect().top }));
    // The bottom of the last element with text: the UI's frame must show it whole.
    const texts = [...document.querySelectorAll('main p, main li')].filter((el) => el.textContent!.trim() !== '');
    const bottom = Math.max(...texts.map((el) => el.getBoundingClientRect().bottom));
    return { items, bottom, link: document.querySelector('a')?.getAttribute('href') ?? null, text: document.body.innerText };
  });
  return { ...seen, frameHeight };
}

/** The deadline lines the details should show: every deadline not met, in order, each starting with its name and status. */
const expectedLines = (t: Timeline) => t.deadlines.filter((d) => d.status !== 'met').map((d) => `${deadlineLabel(d, t.deadlines)} · ${STATUS_DA[d.status]}`);

test('the Overdue filter of a municipality lists exactly its overdue cases', async () => {
  const query = `Overdue = true AND Municipality = '101'`;
  const expected = [cases.overdue1, cases.overdue2].map((c) => caseWorkflowId(c.caseId)).sort();
  // Visibility follows the cases a moment behind; the caseworker's list is read once it has caught up.
  await eventually(
    async () => {
      const ids: string[] = [];
      for await (const wf of system.client.workflow.list({ query: `${query} AND CaseId STARTS_WITH 'BR-${run}'` })) ids.push(wf.workflowId);
      return ids.sort();
    },
    (ids) => JSON.stringify(ids) === JSON.stringify(expected),
    'visibility of the overdue cases',
  );
  const page = await browser.newPage();
  await page.goto(`${system.ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`, { waitUntil: 'load' });
  const rows = '[data-testid="workflows-summary-configurable-table-row"] a[href*="/workflows/sickness-case-"]';
  await page.waitForFunction((sel: string, n: number) => document.querySelectorAll(sel).length >= n, { timeout: 60_000 }, rows, expected.length).catch(() => undefined);
  // A row links its workflow id, run id and type to the case; the workflow ids are the case links' texts.
  const listed = [...new Set(await page.$$eval(rows, (links) => links.map((a) => a.textContent!.trim())))].filter((text) => text.startsWith('sickness-case-')).sort();
  await page.screenshot({ path: shot('workflows-overdue-101'), fullPage: true });
  expect(listed).toEqual(expected);
  await page.close();
});

test('a paused case: summary, one deadline per line (status, why it is paused), the policy in force, and a link to its page', async () => {
  const page = await browser.newPage();
  const { summary, details, current } = await openCase(page, cases.paused.caseId);
  await page.screenshot({ path: shot('case-paused'), fullPage: true });
  const t = await timelineOf(cases.paused.caseId);

  expect(await summary.evaluate(() => document.body.innerText.trim())).toBe(
    `Sygedagpengesag ${cases.paused.caseId} · Odense (461) · første fraværsdag ${cases.paused.firstAbsenceDay}`,
  );
  const seen = await readDetails(current);
  const texts = seen.items.map((i) => i.text);
  expect(texts[0]).toBe('Status: åben · kategori ikke visiteret · regelsæt 2023');
  // Each deadline is its own line, in the order of the timeline, and no line runs two together.
  const lines = texts.filter((text) => expectedLines(t).some((e) => text.startsWith(e)));
  expect(lines.map((text) => expectedLines(t).find((e) => text.startsWith(e)))).toEqual(expectedLines(t));
  for (const line of lines) expect(expectedLines(t).filter((e) => line.includes(e))).toHaveLength(1);
  const tops = seen.items.map((i) => i.top);
  expect(tops).toEqual([...tops].sort((a, b) => a - b));
  expect(new Set(tops).size).toBe(tops.length);
  const first = lines.find((text) => text.startsWith('Første opfølgningssamtale'))!;
  const firstDeadline = t.deadlines.find((d) => d.id === 'first-conversation')!;
  expect(first).toBe(
    `Første opfølgningssamtale · i bero · uden dato, til pausen får en slutdato (oprindelig ${firstDeadline.originalDueDate}) · personligt fremmøde · ` +
      'Sat i bero af Opfølgning i bero (Odense) (odense-pause rev. 1) indtil en slutdato kendes',
  );
  expect(texts).toContain(`Opfølgning i bero (Odense) (odense-pause rev. 1) · i kraft fra ${addDays(today, -10)}, uden slutdato`);
  // Nothing the caseworker needs is cut off by the frame the UI sizes.
  expect(seen.bottom).toBeLessThanOrEqual(seen.frameHeight);
  expect(seen.link).toBe(`${system.base}/caseworker/cases/${cases.paused.caseId}`);
  expect(await details.evaluate(() => document.querySelector('a')?.getAttribute('href'))).toBe(seen.link);
  for (const ref of citizenRefs) expect(seen.text).not.toContain(ref);
  await page.close();
});

test('an overdue case: days late per deadline, and each timer says what it waits for', async () => {
  const page = await browser.newPage();
  const { current } = await openCase(page, cases.overdue2.caseId);
  const t = await timelineOf(cases.overdue2.caseId);
  const seen = await readDetails(current);
  const missed = t.deadlines.filter((d) => d.status === 'missed');
  expect(missed.map((d) => d.kind).sort()).toEqual(['certificate', 'first-conversation']);
  for (const d of missed) {
    expect(seen.items.map((i) => i.text)).toContainEqual(expect.stringMatching(new RegExp(`^${deadlineLabel(d, t.deadlines).replace(/[()]/g, '\\$&')} · overskredet · senest ${d.dueDate} · ${d.daysLate} dage over`)));
  }
  expect(seen.bottom).toBeLessThanOrEqual(seen.frameHeight);
  const next = t.deadlines.find((d) => d.status === 'pending' && d.dueDate && addDays(d.dueDate, 1) === t.nextChangeOn)!;
  const timers = await page.$eval('main', (m: any) => m.innerText);
  expect(timers).toContain(`${next.title} senest ${next.dueDate} · overskredet fra ${t.nextChangeOn}, hvis ikke opfyldt`);
  await page.screenshot({ path: shot('case-overdue'), fullPage: true });
  await page.close();
});

test('a closed case and a case in job clarification read correctly', async () => {
  const page = await browser.newPage();
  const closed = await readDetails((await openCase(page, cases.closed.caseId)).current);
  await page.screenshot({ path: shot('case-closed'), fullPage: true });
  expect(closed.items[0]!.text).toBe(`Status: afsluttet ${addDays(today, -1)} (raskmeldt) · kategori ikke visiteret · regelsæt 2023`);
  expect(closed.items.map((i) => i.text)).toContain('Ingen åbne frister');
  expect(closed.bottom).toBeLessThanOrEqual(closed.frameHeight);

  const job = await readDetails((await openCase(page, cases.jobClarification.caseId)).current);
  await page.screenshot({ path: shot('case-job-clarification'), fullPage: true });
  const t = await timelineOf(cases.jobClarification.caseId);
  expect(job.items[0]!.text).toBe('Status: overgået til jobafklaringsforløb · kategori 2 · regelsæt 2023');
  expect(job.items.map((i) => i.text)).toContain(`Rehabiliteringsteam · afventer · senest ${addDays(today, 23)}`);
  expect(job.items.map((i) => i.text)).toContain(`${t.deadlines.filter((d) => d.status === 'met').length} frister opfyldt (se tidslinjen)`);
  expect(job.bottom).toBeLessThanOrEqual(job.frameHeight);
  const timers = await page.$eval('main', (m: any) => m.innerText);
  expect(timers).toContain(`Rehabiliteringsteam senest ${addDays(today, 23)} · overskredet fra ${addDays(today, 24)}, hvis ikke opfyldt`);
  await page.close();
});

test('the link in the details opens the caseworker page: the picture and the deadline table, behind the reader key', async () => {
  const page = await browser.newPage();
  const link = (await readDetails((await openCase(page, cases.paused.caseId)).current)).link!;
  // Without credentials the page answers 401 with WWW-Authenticate: Basic (test/integration/api.test.ts), and a
  // browser asks for them; this is what it sends once the caseworker has typed the key into its prompt.
  await page.authenticate({ username: 'sagsbehandler', password: system.keys.reader });
  const res = await page.goto(link, { waitUntil: 'load' });
  expect(res!.status()).toBe(200);
  const t = await timelineOf(cases.paused.caseId);
  const seen = await page.evaluate(() => ({
    title: document.querySelector('h1')!.textContent,
    rows: [...document.querySelectorAll('#deadlines tbody tr.deadline')].map((tr) => [tr.getAttribute('data-id'), tr.getAttribute('data-status')]),
    svgWidth: document.querySelector('figure svg')!.getBoundingClientRect().width,
    svgRows: [...document.querySelectorAll('figure svg g.deadline')].map((g) => [g.getAttribute('data-id'), g.getAttribute('data-status')]),
    pause: [...document.querySelectorAll('figure svg g.policy-window[data-type="pause"] rect')].map((r) => r.getBoundingClientRect().width),
    shaded: document.querySelectorAll('figure svg rect.shade-pause').length,
    today: document.querySelector('figure svg g.today')?.getAttribute('data-date'),
    review: document.querySelector('figure svg g.review-point')?.getAttribute('data-date'),
    scripts: document.scripts.length,
    text: document.body.innerText,
  }));
  await page.screenshot({ path: shot('caseworker-page-paused'), fullPage: true });
  expect(seen.title).toBe(`Sag ${cases.paused.caseId} · Odense (461)`);
  expect(seen.rows).toEqual(t.deadlines.map((d) => [d.id, d.status]));
  expect(seen.svgRows).toEqual(seen.rows);
  expect(seen.svgWidth).toBeGreaterThan(600);
  expect(seen.pause).toHaveLength(1);
  expect(seen.pause[0]).toBeGreaterThan(20);
  expect(seen.shaded).toBe(t.deadlines.length);
  expect(seen.today).toBe(today);
  expect(seen.review).toBe(t.reviewPoint);
  expect(seen.scripts).toBe(0);
  for (const ref of citizenRefs) expect(seen.text).not.toContain(ref);
  await page.close();
});

test('the timeline pictures parse and render in the browser: a case, and a what-if for a case of the 2020 suspended cohort', async () => {
  const page = await browser.newPage();
  await page.setExtraHTTPHeaders({ authorization: `Bearer ${system.keys.reader}` });
  const caseSvg = await page.goto(`${system.base}/api/v1/cases/${cases.overdue2.caseId}/timeline.svg`, { waitUntil: 'load' });
  expect(caseSvg!.headers()['content-type']).toBe('image/svg+xml; charset=utf-8');
  // An SVG that is not well-formed XML shows Chromium's parser error instead of an <svg> document.
  expect(await page.evaluate(() => [document.documentElement.tagName, document.getElementsByTagName('parsererror').length])).toEqual(['svg', 0]);
  expect(await page.$$eval('g.mark-missed, path.mark-missed', (marks) => marks.length)).toBe(2);
  await page.screenshot({ path: shot('timeline-overdue') });

  const res = await fetch(`${system.base}/api/v1/timeline/simulate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${system.keys.reader}`, 'content-type': 'application/json', accept: 'image/svg+xml' },
    body: JSON.stringify({
      facts: { caseId: 'COHORT-2020-1', citizenRef: 'REF-COHORT', municipality: '101', firstAbsenceDay: '2020-02-03', informationFormSentOn: '2020-02-10' },
      events: [
        { eventId: 'f', type: 'information-form-received', occurredOn: '2020-02-14' },
        { eventId: 'cr', type: 'certificate-requested', occurredOn: '2020-03-02' },
        { eventId: 'c1', type: 'conversation-held', occurredOn: '2020-06-03', mode: 'phone', category: 2 },
      ],
      policies: publications2020.map((p) => p.policy),
      asOf: '2020-09-15',
    }),
  });
  expect(res.status).toBe(200);
  const svg = await res.text();
  const file = path.join(SCREENSHOT_DIR, 'timeline-what-if-2020.svg');
  writeFileSync(file, svg);
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  const seen = await page.evaluate(() => ({
    root: document.documentElement.tagName,
    errors: document.getElementsByTagName('parsererror').length,
    first: (() => {
      const g = document.querySelector('g.deadline[data-id="first-conversation"]')!;
      return [g.getAttribute('data-original'), g.getAttribute('data-due'), g.getAttribute('data-status'), g.querySelectorAll('.original-due, .mark-met, .shade-pause').length];
    })(),
    pause: [...document.querySelectorAll('g.policy-window[data-type="pause"]')].map((g) => [g.getAttribute('data-from'), g.getAttribute('data-to')]),
    review: [document.querySelector('g.original-review-point')?.getAttribute('data-date'), document.querySelector('g.review-point')?.getAttribute('data-date')],
  }));
  await page.screenshot({ path: shot('timeline-what-if-2020') });
  expect(seen).toEqual({
    root: 'svg',
    errors: 0,
    // Moved 68 days by the suspension, met on 3 June: the hollow original, the check and the shaded pause.
    first: ['2020-03-29', '2020-06-05', 'met', 3],
    pause: [['2020-03-20', '2020-05-26']],
    review: ['2020-08-31', '2020-11-30'],
  });
  expect(svg).not.toContain('REF-COHORT');
  await page.close();
});
