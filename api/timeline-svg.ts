import { caseStatusDa, deadlineLabel, MODE_DA, STATUS_DA, whyMoved } from '../workflows/case-details';
import { addDays, daysBetween, type IsoDate, maxDate, minDate } from '../workflows/domain/dates';
import { type Drawing, drawing, PICTURE_DEFS, PICTURE_LEGEND } from '../workflows/domain/effects';
import { MUNICIPALITIES } from '../workflows/domain/municipalities';
import { type Deadline, type DeadlineStatus, type PolicyOnCase, type Timeline } from '../workflows/domain/types';

/**
 * A case's deadlines over time as an SVG, for the caseworker page and for what-if answers: one row per
 * deadline with its original and current due date, pause and waiver windows shaded where they apply to
 * that deadline, met and missed marks, the review point and today. How each policy effect is drawn is in
 * its module (workflows/domain/effects/). Hand-written (no dependency), every
 * text escaped, no script, no external reference: the picture is safe to serve as a file and to inline.
 */

export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const STATUS_COLOURS: Record<DeadlineStatus, string> = {
  pending: '#2b6cb0',
  met: '#2f855a',
  missed: '#c53030',
  paused: '#b7791f',
  waived: '#718096',
};
const REVIEW_COLOUR = '#6b46c1';
const TODAY_COLOUR = '#1a202c';
const MONTHS_DA = ['jan', 'feb', 'mar', 'apr', 'maj', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'];

const WIDTH = 1000;
const LABEL_WIDTH = 290;
const RIGHT = 24;
const ROW = 28;
const LANE = 20;

interface Window {
  policy: PolicyOnCase;
  /** Its lane, and the deadlines it shades (a pause or waiver; a mode switch only has its lane). */
  drawing: Drawing;
  from: IsoDate;
  /** Inclusive; null while open-ended. */
  to: IsoDate | null;
}

/** The windows of the drawn effects of the policies the case follows now (superseded revisions are history). */
function policyWindows(t: Timeline): Window[] {
  const out: Window[] = [];
  for (const policy of t.policies) {
    if (policy.state === 'superseded') continue;
    for (const effect of policy.effects) {
      const drawn = drawing(effect);
      if (drawn) out.push({ policy, drawing: drawn, from: policy.effectiveFrom, to: policy.effectiveTo });
    }
  }
  return out;
}

const truncate = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The dates the picture spans: from a week before the first day of absence to a little after the last date it shows. */
function range(t: Timeline, windows: Window[]): { from: IsoDate; to: IsoDate } {
  const dates: IsoDate[] = [t.firstAbsenceDay, t.asOf, t.reviewPoint, t.originalReviewPoint];
  for (const d of t.deadlines) {
    dates.push(d.originalDueDate);
    if (d.dueDate) dates.push(d.dueDate);
    if (d.metOn) dates.push(d.metOn);
  }
  for (const w of windows) {
    dates.push(w.from);
    if (w.to) dates.push(w.to);
  }
  if (t.closedOn) dates.push(t.closedOn);
  const last = dates.reduce(maxDate);
  const first = dates.reduce(minDate);
  return { from: addDays(first, -7), to: addDays(last, Math.max(14, Math.round(daysBetween(first, last) * 0.04))) };
}

/** The SVG document (UTF-8, standalone). */
export function timelineSvg(t: Timeline): string {
  const windows = policyWindows(t);
  const span = range(t, windows);
  const days = daysBetween(span.from, span.to);
  const plotWidth = WIDTH - LABEL_WIDTH - RIGHT;
  // A date's left edge; a day is [x(d), x(d + 1)).
  const x = (date: IsoDate) => LABEL_WIDTH + (daysBetween(span.from, date) / days) * plotWidth;
  const mid = (date: IsoDate) => x(date) + plotWidth / days / 2;
  const clampTo = (date: IsoDate | null) => (date === null || date > span.to ? span.to : date);
  const f = (n: number) => n.toFixed(1);

  const municipality = MUNICIPALITIES[t.municipality]?.name ?? t.municipality;
  const title = `Sag ${t.caseId} · ${municipality} (${t.municipality}) · tidslinje pr. ${t.asOf}`;
  const subtitle = `Status: ${caseStatusDa(t)} · samtaleform nu: ${MODE_DA[t.conversationMode]} · revurderingstidspunkt ${t.reviewPoint}`;

  const headerHeight = 64;
  // Room for three rows of marker labels (review point, its original, today) above the lanes.
  const lanesTop = headerHeight + 38;
  const lanes = windows.length;
  const rowsTop = lanesTop + lanes * LANE + (lanes > 0 ? 10 : 0);
  const rowsHeight = Math.max(1, t.deadlines.length) * ROW;
  const axisTop = rowsTop + rowsHeight;
  const legendTop = axisTop + 40;
  const height = legendTop + 64;
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="tl-title tl-desc" font-family="system-ui, 'DejaVu Sans', Arial, sans-serif" font-size="12">`,
    `<title id="tl-title">${escapeXml(title)}</title>`,
    `<desc id="tl-desc">${escapeXml(`${t.deadlines.length} frister. ${subtitle}`)}</desc>`,
    `<defs>${PICTURE_DEFS}</defs>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold" fill="#1a202c">${escapeXml(title)}</text>`,
    `<text x="12" y="44" fill="#4a5568">${escapeXml(subtitle)}</text>`,
  );

  // Month grid and axis labels (every month, or every third on long cases).
  const months: IsoDate[] = [];
  for (let d = `${span.from.slice(0, 8)}01`; d <= span.to; d = nextMonth(d)) if (d >= span.from) months.push(d);
  // A label needs about 56 px: every month, or every second, third, ... on long cases.
  const every = Math.max(1, Math.ceil(56 / ((plotWidth * 30.44) / days)));
  const monthLabel = (d: IsoDate) => `${MONTHS_DA[Number(d.slice(5, 7)) - 1]} ${d.slice(0, 4)}`;
  out.push('<g class="axis">');
  // The month the picture starts in, when its first of the month lies before the picture.
  if (!months[0] || x(months[0]) - LABEL_WIDTH > 60) out.push(`<text x="${LABEL_WIDTH + 2}" y="${axisTop + 16}" fill="#4a5568" font-size="11">${monthLabel(span.from)}</text>`);
  months.forEach((m, i) => {
    out.push(`<line x1="${f(x(m))}" y1="${lanesTop - 6}" x2="${f(x(m))}" y2="${axisTop}" stroke="#e2e8f0"/>`);
    if (i % every === 0 && x(m) + 52 < WIDTH) out.push(`<text x="${f(x(m) + 2)}" y="${axisTop + 16}" fill="#4a5568" font-size="11">${monthLabel(m)}</text>`);
  });
  out.push(`<line x1="${LABEL_WIDTH}" y1="${axisTop}" x2="${WIDTH - RIGHT}" y2="${axisTop}" stroke="#a0aec0"/>`, '</g>');

  // One lane per drawn effect of a policy, labelled with the policy.
  if (lanes > 0) {
    out.push(`<text x="12" y="${lanesTop - 8}" fill="#4a5568" font-weight="bold">Politikændringer</text>`);
    windows.forEach((w, i) => {
      const y = lanesTop + i * LANE;
      const end = clampTo(w.to);
      const kind = w.drawing.laneName;
      const label = `${kind}: ${w.policy.title} (${w.policy.policyId} rev. ${w.policy.revision}), ${w.from}–${w.to ?? 'uden slutdato'}`;
      out.push(
        `<g class="policy-window" data-type="${w.drawing.type}" data-policy="${escapeXml(w.policy.policyId)}" data-from="${w.from}" data-to="${w.to ?? ''}">`,
        `<title>${escapeXml(label)}</title>`,
        `<text x="12" y="${y + 14}" fill="#2d3748">${escapeXml(truncate(`${kind}: ${w.policy.title}`, 44))}</text>`,
        `<rect x="${f(x(w.from))}" y="${y + 3}" width="${f(Math.max(2, x(addDays(end, 1)) - x(w.from)))}" height="${LANE - 6}" ${w.drawing.lanePaint} rx="3"/>`,
        w.to === null ? `<text x="${f(x(end) - 4)}" y="${y + 14}" text-anchor="end" fill="#744210" font-size="11">uden slutdato →</text>` : '',
        '</g>',
      );
    });
  }

  // Deadline rows: the windows that apply to the row's kind shaded, then the marks.
  t.deadlines.forEach((d, i) => {
    const y = rowsTop + i * ROW;
    const cy = y + ROW / 2;
    const colour = STATUS_COLOURS[d.status];
    const label = deadlineLabel(d, t.deadlines);
    const tooltip = [
      `${label}: ${STATUS_DA[d.status]}`,
      d.dueDate ? `senest ${d.dueDate}` : 'i bero uden dato',
      d.dueDate !== d.originalDueDate ? `oprindelig ${d.originalDueDate}` : null,
      d.metOn ? `opfyldt ${d.metOn}` : null,
      d.status === 'missed' && d.daysLate !== null ? `${d.daysLate} dage over` : null,
      d.mode ? MODE_DA[d.mode] : null,
      ...d.reasons,
    ].filter(Boolean).join(' · ');
    out.push(
      `<g class="deadline" data-id="${escapeXml(d.id)}" data-status="${d.status}" data-due="${d.dueDate ?? ''}" data-original="${d.originalDueDate}">`,
      `<title>${escapeXml(tooltip)}</title>`,
      i % 2 === 0 ? `<rect x="0" y="${y}" width="${WIDTH}" height="${ROW}" fill="#f7fafc"/>` : '',
    );
    for (const w of windows) {
      const shade = w.drawing.shade;
      if (!shade || (shade.kinds && !shade.kinds.includes(d.kind))) continue;
      const end = clampTo(w.to);
      const width = Math.max(2, x(addDays(end, 1)) - x(w.from));
      out.push(`<rect class="${shade.className}" x="${f(x(w.from))}" y="${y + 2}" width="${f(width)}" height="${ROW - 4}" ${shade.paint}/>`);
    }
    out.push(
      `<circle cx="9" cy="${cy}" r="4" fill="${colour}"/>`,
      `<text x="18" y="${cy + 4}" fill="#1a202c">${escapeXml(truncate(label, 28))}</text>`,
      `<text x="${LABEL_WIDTH - 8}" y="${cy + 4}" text-anchor="end" fill="${colour}" font-size="11">${escapeXml(STATUS_DA[d.status])}</text>`,
    );
    const original = mid(d.originalDueDate);
    const moved = d.dueDate !== d.originalDueDate;
    if (moved) {
      // Where the rule alone put it, and an arrow to where it is now (or on to the open pause).
      const to = d.dueDate ? mid(d.dueDate) : x(span.to) - 2;
      out.push(
        `<circle class="original-due" cx="${f(original)}" cy="${cy}" r="5" fill="#ffffff" stroke="#718096" stroke-width="1.5"/>`,
        `<line x1="${f(original + (to > original ? 6 : -6))}" y1="${cy}" x2="${f(to + (to > original ? -8 : 8))}" y2="${cy}" stroke="#718096" stroke-width="1.5" stroke-dasharray="4 3"/>`,
        `<path d="M${f(to + (to > original ? -8 : 8))},${cy - 4} L${f(to + (to > original ? -2 : 2))},${cy} L${f(to + (to > original ? -8 : 8))},${cy + 4} Z" fill="#718096"/>`,
      );
      if (!d.dueDate) out.push(`<text x="${f(to - 10)}" y="${cy - 6}" text-anchor="end" fill="${STATUS_COLOURS.paused}" font-size="11">i bero</text>`);
    }
    if (d.dueDate) {
      const cx = mid(d.dueDate);
      if (d.status === 'missed') {
        // Overdue from the day after the due date until today.
        out.push(
          `<rect class="overdue" x="${f(cx)}" y="${cy - 2}" width="${f(Math.max(0, mid(t.asOf) - cx))}" height="4" fill="${colour}" fill-opacity="0.45"/>`,
          `<path class="mark-missed" d="M${f(cx - 5)},${cy - 5} L${f(cx + 5)},${cy + 5} M${f(cx - 5)},${cy + 5} L${f(cx + 5)},${cy - 5}" stroke="${colour}" stroke-width="2.5" stroke-linecap="round"/>`,
          d.daysLate !== null
            ? mid(t.asOf) + 90 < WIDTH
              ? `<text x="${f(mid(t.asOf) + 6)}" y="${cy + 4}" fill="${colour}" font-size="11">${d.daysLate} dage over</text>`
              : `<text x="${f(mid(t.asOf) - 6)}" y="${cy - 5}" text-anchor="end" fill="${colour}" font-size="11">${d.daysLate} dage over</text>`
            : '',
        );
      } else if (d.status === 'waived') {
        out.push(`<circle class="mark-waived" cx="${f(cx)}" cy="${cy}" r="5" fill="#ffffff" stroke="${colour}" stroke-width="1.5"/><line x1="${f(cx - 4)}" y1="${cy + 4}" x2="${f(cx + 4)}" y2="${cy - 4}" stroke="${colour}" stroke-width="1.5"/>`);
      } else if (d.status === 'met') {
        out.push(`<circle class="due" cx="${f(cx)}" cy="${cy}" r="3" fill="${colour}" fill-opacity="0.5"/>`);
      } else {
        out.push(`<path class="mark-${d.status}" d="M${f(cx)},${cy - 6} L${f(cx + 6)},${cy} L${f(cx)},${cy + 6} L${f(cx - 6)},${cy} Z" fill="${colour}"/>`);
      }
    }
    if (d.metOn) {
      const mx = mid(d.metOn);
      const late = (d.daysLate ?? 0) > 0;
      if (late && d.dueDate) out.push(`<rect x="${f(mid(d.dueDate))}" y="${cy - 2}" width="${f(Math.max(0, mx - mid(d.dueDate)))}" height="4" fill="${STATUS_COLOURS.missed}" fill-opacity="0.45"/>`);
      out.push(`<path class="mark-met" d="M${f(mx - 5)},${cy} L${f(mx - 1)},${cy + 4} L${f(mx + 6)},${cy - 5}" fill="none" stroke="${late ? STATUS_COLOURS.missed : colour}" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"/>`);
    }
    out.push('</g>');
  });
  if (t.deadlines.length === 0) out.push(`<text x="${LABEL_WIDTH}" y="${rowsTop + 18}" fill="#4a5568">Ingen frister</text>`);

  // The review point (and where the rule put it, when a policy moved it), the case's end and today.
  const marker = (cls: string, date: IsoDate, colour: string, text: string, dash: string, row: number) => {
    const mx = mid(date);
    const anchor = mx > WIDTH - 160 ? 'end' : 'start';
    return (
      `<g class="${cls}" data-date="${date}"><line x1="${f(mx)}" y1="${lanesTop - 4}" x2="${f(mx)}" y2="${axisTop}" stroke="${colour}" stroke-width="1.5" stroke-dasharray="${dash}"/>` +
      `<text x="${f(mx + (anchor === 'end' ? -4 : 4))}" y="${headerHeight + 2 + row * 12}" text-anchor="${anchor}" fill="${colour}" font-size="11">${escapeXml(text)}</text></g>`
    );
  };
  if (t.originalReviewPoint !== t.reviewPoint) out.push(marker('original-review-point', t.originalReviewPoint, '#718096', `revurderingstidspunkt opr. ${t.originalReviewPoint}`, '2 3', 1));
  out.push(marker('review-point', t.reviewPoint, REVIEW_COLOUR, `Revurderingstidspunkt ${t.reviewPoint}`, '6 3', 0));
  if (t.closedOn) out.push(marker('closed', t.closedOn, '#2d3748', `Afsluttet ${t.closedOn}`, '1 2', 1));
  out.push(marker('today', t.asOf, TODAY_COLOUR, `I dag ${t.asOf}`, '', t.originalReviewPoint !== t.reviewPoint || t.closedOn ? 2 : 1));

  // Legend.
  const items: [string, string][] = [
    [`<path d="M0,-6 L6,0 L0,6 L-6,0 Z" fill="${STATUS_COLOURS.pending}"/>`, 'frist (afventer)'],
    [`<circle r="5" fill="#ffffff" stroke="#718096" stroke-width="1.5"/>`, 'oprindelig frist'],
    [`<path d="M-5,0 L-1,4 L6,-5" fill="none" stroke="${STATUS_COLOURS.met}" stroke-width="2.5"/>`, 'opfyldt'],
    [`<path d="M-5,-5 L5,5 M-5,5 L5,-5" stroke="${STATUS_COLOURS.missed}" stroke-width="2.5"/>`, 'overskredet'],
    [`<path d="M0,-6 L6,0 L0,6 L-6,0 Z" fill="${STATUS_COLOURS.paused}"/>`, 'i bero'],
    [`<circle r="5" fill="#ffffff" stroke="${STATUS_COLOURS.waived}" stroke-width="1.5"/>`, 'frafaldet'],
    ...PICTURE_LEGEND.map(({ shape, text }): [string, string] => [shape, text]),
    [`<line x1="0" y1="-7" x2="0" y2="7" stroke="${REVIEW_COLOUR}" stroke-width="1.5" stroke-dasharray="3 2"/>`, 'revurderingstidspunkt'],
    [`<line x1="0" y1="-7" x2="0" y2="7" stroke="${TODAY_COLOUR}" stroke-width="1.5"/>`, 'i dag'],
  ];
  out.push(`<g class="legend" transform="translate(12 ${legendTop})">`);
  items.forEach(([shape, text], i) => {
    const lx = (i % 6) * 160 + 8;
    const ly = Math.floor(i / 6) * 22;
    out.push(`<g transform="translate(${lx} ${ly})">${shape}<text x="14" y="4" fill="#2d3748">${escapeXml(text)}</text></g>`);
  });
  out.push('</g>', '</svg>');
  return out.filter(Boolean).join('\n');
}

function nextMonth(date: IsoDate): IsoDate {
  const year = Number(date.slice(0, 4));
  const month = Number(date.slice(5, 7));
  return month === 12 ? `${year + 1}-01-01` : `${year}-${String(month + 1).padStart(2, '0')}-01`;
}

/** For the caseworker page's table: the deadline in the same words as the picture. */
export function deadlineRow(d: Deadline, all: readonly Deadline[]) {
  return {
    label: deadlineLabel(d, all),
    status: STATUS_DA[d.status],
    colour: STATUS_COLOURS[d.status],
    originalDueDate: d.originalDueDate,
    dueDate: d.dueDate,
    metOn: d.metOn,
    daysLate: d.daysLate,
    mode: d.mode ? MODE_DA[d.mode] : null,
    rule: d.reasons[0] ?? '',
    moved: whyMoved(d),
  };
}
