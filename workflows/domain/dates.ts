/**
 * Calendar dates as `YYYY-MM-DD` strings, the way the law counts them: whole days in
 * Europe/Copenhagen. Pure and deterministic, so workflow code can use it (no Intl, no host time zone).
 */
export type IsoDate = string;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

export function isIsoDate(value: unknown): value is IsoDate {
  if (typeof value !== 'string') return false;
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === value;
}

function toUtcMs(date: IsoDate): number {
  const m = ISO_DATE.exec(date);
  if (!m) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

function fromUtcMs(ms: number): IsoDate {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return fromUtcMs(toUtcMs(date) + days * DAY_MS);
}

/** Whole days from `from` to `to` (positive when `to` is later). */
export function daysBetween(from: IsoDate, to: IsoDate): number {
  return Math.round((toUtcMs(to) - toUtcMs(from)) / DAY_MS);
}

export function endOfMonth(date: IsoDate): IsoDate {
  const d = new Date(toUtcMs(date));
  return fromUtcMs(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0));
}

/** Same day N months later, clamped to the end of a shorter month (2020-01-31 + 1 month = 2020-02-29). */
export function addMonths(date: IsoDate, months: number): IsoDate {
  const d = new Date(toUtcMs(date));
  const firstOfTarget = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months + 1, 0)).getUTCDate();
  return fromUtcMs(firstOfTarget + (Math.min(d.getUTCDate(), lastDay) - 1) * DAY_MS);
}

export const minDate = (a: IsoDate, b: IsoDate): IsoDate => (a <= b ? a : b);
export const maxDate = (a: IsoDate, b: IsoDate): IsoDate => (a >= b ? a : b);

/** Last Sunday of a month, as a UTC day number in ms. */
function lastSundayUtc(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0));
  return last.getTime() - last.getUTCDay() * DAY_MS;
}

/**
 * Copenhagen's UTC offset in minutes at an instant: CEST (+120) from 01:00 UTC on the last Sunday of
 * March to 01:00 UTC on the last Sunday of October (EU directive 2000/84/EC), CET (+60) otherwise.
 */
export function copenhagenOffsetMinutes(epochMs: number): number {
  const year = new Date(epochMs).getUTCFullYear();
  const summerStarts = lastSundayUtc(year, 2) + 3_600_000;
  const summerEnds = lastSundayUtc(year, 9) + 3_600_000;
  return epochMs >= summerStarts && epochMs < summerEnds ? 120 : 60;
}

/** The calendar date in Copenhagen at an instant. */
export function copenhagenDate(epochMs: number): IsoDate {
  const local = epochMs + copenhagenOffsetMinutes(epochMs) * 60_000;
  return fromUtcMs(Math.floor(local / DAY_MS) * DAY_MS);
}

/** The instant a Copenhagen calendar day begins (local midnight; never inside a DST switch hour). */
export function startOfCopenhagenDay(date: IsoDate): number {
  const utcMidnight = toUtcMs(date);
  const asWinter = utcMidnight - 60 * 60_000;
  return copenhagenOffsetMinutes(asWinter) === 120 ? utcMidnight - 120 * 60_000 : asWinter;
}

/** The instant a Copenhagen calendar day ends: a deadline "on" a date is met until then. */
export function endOfCopenhagenDay(date: IsoDate): number {
  return startOfCopenhagenDay(addDays(date, 1));
}
