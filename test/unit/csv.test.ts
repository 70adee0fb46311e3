import { reportCsv } from '../../api/routes/reports';

const columns = ['caseId', 'municipality', 'kind', 'dueDate', 'daysOverdue'];

test('rows become CRLF lines under the header, in the columns given', () => {
  const csv = reportCsv({ rows: [{ caseId: 'SAG-1', municipality: '101', kind: 'first-conversation', dueDate: '2020-03-02', daysOverdue: 5, extra: 'x' }] }, columns);
  expect(csv).toBe('caseId,municipality,kind,dueDate,daysOverdue\r\nSAG-1,101,first-conversation,2020-03-02,5\r\n');
});

test('a report without rows still has its header', () => {
  expect(reportCsv({ rows: [] }, columns)).toBe('caseId,municipality,kind,dueDate,daysOverdue\r\n');
});

test('a cell a spreadsheet would run as a formula is prefixed with an apostrophe', () => {
  const cells = ['=HYPERLINK("http://x","y")', '+1+2', '-2+3+cmd|\' /C calc\'!A0', '@SUM(1)', '\tTAB', '\rCR'];
  const csv = reportCsv({ rows: cells.map((caseId) => ({ caseId })) }, ['caseId']);
  expect(csv.split('\r\n').slice(1, 5)).toEqual([`"'=HYPERLINK(""http://x"",""y"")"`, `'+1+2`, `'-2+3+cmd|' /C calc'!A0`, `'@SUM(1)`]);
  expect(csv).toContain(`'\tTAB`);
  expect(csv).toContain(`"'\rCR"`);
});

test('numbers stay numbers: a negative number is not escaped, a text that looks like one is', () => {
  const csv = reportCsv({ rows: [{ caseId: 'A', daysOverdue: -3 }, { caseId: '-3', daysOverdue: 0 }] }, ['caseId', 'daysOverdue']);
  expect(csv).toBe(`caseId,daysOverdue\r\nA,-3\r\n'-3,0\r\n`);
});

test('commas, quotes and line breaks are quoted; null is empty; booleans are words', () => {
  const csv = reportCsv({ rows: [{ a: 'x,y', b: 'say "hi"', c: 'two\nlines', d: null, e: true }] }, ['a', 'b', 'c', 'd', 'e']);
  expect(csv).toBe('a,b,c,d,e\r\n"x,y","say ""hi""","two\nlines",,true\r\n');
});

test('a report without rows is written as metric,value lines, nested figures by their path', () => {
  const csv = reportCsv({ from: '2020-03-01', total: 4, rate: 0.75, municipality: null, daysLateDistribution: { '1-7': 1, '22+': 0 }, byKind: [{ kind: 'k', n: 1 }] });
  expect(csv.split('\r\n')).toEqual([
    'metric,value',
    'from,2020-03-01',
    'total,4',
    'rate,0.75',
    'municipality,',
    'daysLateDistribution.1-7,1',
    'daysLateDistribution.22+,0',
    'byKind,"[{""kind"":""k"",""n"":1}]"',
    '',
  ]);
});
