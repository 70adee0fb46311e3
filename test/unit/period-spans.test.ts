import fc from 'fast-check';
import { periodSpans } from '../../api/reports';
import { addDays } from '../../workflows/domain/dates';

/**
 * The reports add up counts kept per day, month and year (migrations/20261130012500000_report-aggregates.sql).
 * periodSpans picks which of them make up a period: every day of the period must be counted exactly once, and
 * no day outside it.
 */
const keyOf = { d: (day: string) => day, m: (day: string) => `${day.slice(0, 7)}-01`, y: (day: string) => `${day.slice(0, 4)}-01-01` };
const timesCounted = (spans: ReturnType<typeof periodSpans>, day: string) =>
  spans.filter((s) => (s.first === '-infinity' || keyOf[s.grain](day) >= s.first) && keyOf[s.grain](day) <= s.last).length;
const day = fc.integer({ min: 0, max: 1500 }).map((n) => addDays('2018-11-15', n));

test('every day of a period is counted once, and no other day', () => {
  fc.assert(
    fc.property(fc.option(day, { nil: null }), day, fc.integer({ min: 0, max: 1500 }).map((n) => addDays('2018-11-15', n)), (from, to, probe) => {
      const spans = periodSpans(from, to);
      const inside = (from === null || probe >= from) && probe <= to;
      expect(timesCounted(spans, probe)).toBe(inside ? 1 : 0);
    }),
    { numRuns: 5000 },
  );
});

test('a period is a few spans: whole years, months and single days', () => {
  expect(periodSpans('2019-12-25', '2022-02-03')).toEqual([
    { grain: 'd', first: '2019-12-25', last: '2019-12-31' },
    { grain: 'y', first: '2020-01-01', last: '2021-12-31' },
    { grain: 'm', first: '2022-01-01', last: '2022-01-31' },
    { grain: 'd', first: '2022-02-01', last: '2022-02-03' },
  ]);
  expect(periodSpans(null, '2021-02-28')).toEqual([
    { grain: 'y', first: '-infinity', last: '2020-12-31' },
    { grain: 'm', first: '2021-01-01', last: '2021-02-28' },
  ]);
  expect(periodSpans('2020-03-02', '2020-03-01')).toEqual([]);
});
