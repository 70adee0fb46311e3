import { caseStatusDa, MODE_DA } from '../workflows/case-details';
import { effectLabelDa } from '../workflows/domain/effects';
import { MUNICIPALITIES } from '../workflows/domain/municipalities';
import { type PolicyOnCase } from '../workflows/domain/types';
import { type CaseView } from './case-service';
import { deadlineRow, escapeXml, timelineSvg } from './timeline-svg';

/**
 * The caseworker's page of one case (GET /caseworker/cases/:caseId): the timeline picture inline and the
 * deadline table, in Danish. Server-rendered, no script, nothing fetched from elsewhere; every value is
 * escaped. No CPR number, name or citizen reference: the timeline carries none.
 */

const POLICY_STATE_DA: Record<PolicyOnCase['state'], string> = {
  scheduled: 'planlagt',
  active: 'i kraft',
  ended: 'ophørt',
  superseded: 'erstattet af nyere revision',
};

/** Headers for the page and the picture: nothing but inline styles may run or load. */
export const CASEWORKER_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const cell = (value: string | number | null | undefined, cls = '') =>
  `<td${cls ? ` class="${cls}"` : ''}>${value === null || value === undefined || value === '' ? '–' : escapeXml(String(value))}</td>`;

export function caseworkerPage(view: CaseView): string {
  const t = view;
  const municipality = MUNICIPALITIES[t.municipality]?.name ?? t.municipality;
  const rows = t.deadlines
    .map((d) => {
      const r = deadlineRow(d, t.deadlines);
      return (
        `<tr class="deadline" data-id="${escapeXml(d.id)}" data-status="${d.status}">` +
        `<th scope="row">${escapeXml(r.label)}</th>` +
        `<td><span class="status" style="background:${r.colour}">${escapeXml(r.status)}</span></td>` +
        cell(r.dueDate ?? 'i bero', 'date') +
        cell(r.originalDueDate === r.dueDate ? '' : r.originalDueDate, 'date') +
        cell(r.metOn, 'date') +
        cell(d.status === 'missed' || (d.status === 'met' && (r.daysLate ?? 0) > 0) ? r.daysLate : null) +
        cell(r.mode) +
        `<td class="why">${escapeXml(r.rule)}${r.moved.map((m) => `<br><strong>${escapeXml(m)}</strong>`).join('')}</td>` +
        '</tr>'
      );
    })
    .join('\n');
  const policyRows = (list: PolicyOnCase[]) =>
    list
      .map(
        (p) =>
          `<tr class="policy" data-state="${p.state}"><th scope="row">${escapeXml(p.title)}</th>${cell(`${p.policyId} rev. ${p.revision}`)}${cell(POLICY_STATE_DA[p.state])}` +
          `${cell(p.effectiveFrom, 'date')}${cell(p.effectiveTo ?? 'uden slutdato', 'date')}${cell(p.effects.map(effectLabelDa).join(', '))}</tr>`,
      )
      .join('\n');
  const policyTable = (id: string, list: PolicyOnCase[]) =>
    `<table id="${id}"><thead><tr><th>Titel</th><th>Id</th><th>Tilstand</th><th>Fra</th><th>Til</th><th>Virkning</th></tr></thead><tbody>\n${policyRows(list)}\n</tbody></table>`;
  const followed = t.policies.filter((p) => p.state !== 'superseded');
  const superseded = t.policies.filter((p) => p.state === 'superseded');
  const policies =
    t.policies.length === 0
      ? '<p>Ingen politikændringer berører sagen.</p>'
      : policyTable('policies', followed) +
        (superseded.length > 0 ? `<details><summary>Tidligere revisioner (${superseded.length})</summary>${policyTable('superseded-policies', superseded)}</details>` : '');
  const title = `Sag ${t.caseId} · ${municipality} (${t.municipality})`;
  return `<!doctype html>
<html lang="da"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>
body{font-family:system-ui,'DejaVu Sans',Arial,sans-serif;color:#1a202c;margin:1.5rem auto;max-width:1040px;padding:0 1rem;line-height:1.4}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.8rem 0}dt{color:#4a5568}dd{margin:0}
figure{margin:1rem 0;overflow-x:auto}svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e2e8f0;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:#edf2f7}td.date{white-space:nowrap}details{margin-top:.6rem}summary{cursor:pointer;color:#4a5568}.status{color:#fff;border-radius:3px;padding:.05rem .4rem;white-space:nowrap}td.why{font-size:.85rem;color:#2d3748}
nav a{margin-right:1rem}
</style></head>
<body>
<nav><a href="${escapeXml(t.temporalUiUrl)}">Åbn sagen i Temporal UI</a></nav>
<h1>${escapeXml(title)}</h1>
<dl>
<dt>Status</dt><dd id="status">${escapeXml(caseStatusDa(t))}</dd>
<dt>Første fraværsdag</dt><dd>${escapeXml(t.firstAbsenceDay)}</dd>
<dt>Kategori</dt><dd>${escapeXml(String(t.category ?? 'ikke visiteret'))}</dd>
<dt>Samtaleform nu</dt><dd>${escapeXml(MODE_DA[t.conversationMode])}${t.consentRequired ? ' (kræver borgerens samtykke)' : ''}</dd>
<dt>Revurderingstidspunkt</dt><dd>${escapeXml(t.reviewPoint)}${t.reviewPoint !== t.originalReviewPoint ? ` (oprindelig ${escapeXml(t.originalReviewPoint)})` : ''}</dd>
<dt>Regelsæt</dt><dd>${escapeXml(t.ruleSetId)}</dd>
<dt>Opgjort pr.</dt><dd>${escapeXml(t.asOf)}</dd>
</dl>
<h2>Tidslinje</h2>
<figure>${timelineSvg(t)}</figure>
<h2>Frister</h2>
<table id="deadlines"><thead><tr><th>Frist</th><th>Status</th><th>Senest</th><th>Oprindelig frist</th><th>Opfyldt</th><th>Dage for sent</th><th>Samtaleform</th><th>Hvorfor</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="8">Ingen frister</td></tr>'}
</tbody></table>
<h2>Politikændringer</h2>
${policies}
</body></html>`;
}
