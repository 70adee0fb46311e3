import { createLogger } from '../../platform/logger';

const capture = (level: Parameters<typeof createLogger>[0] = 'debug', base = {}) => {
  const lines: string[] = [];
  const logger = createLogger(level, base, (line) => lines.push(line));
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
};

test('a line is one JSON object with the level as a word, an ISO time, the message and the fields', () => {
  const { logger, lines, parsed } = capture('info', { service: 'api' });
  logger.info('request', { requestId: 'r-1', status: 201 });
  expect(lines).toHaveLength(1);
  expect(lines[0]).not.toContain('\n');
  const [line] = parsed();
  expect(line).toEqual({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), service: 'api', requestId: 'r-1', status: 201, message: 'request' });
});

test('lines below the level are not written', () => {
  const { logger, parsed } = capture('warn');
  logger.debug('d');
  logger.info('i');
  logger.warn('w');
  logger.error('e');
  expect(parsed().map((l) => [l.level, l.message])).toEqual([
    ['warn', 'w'],
    ['error', 'e'],
  ]);
});

test('a child carries its fields on every line', () => {
  const { logger, parsed } = capture();
  logger.child({ caseId: 'SAG-1' }).child({ revision: 3 }).info('case snapshot recorded');
  expect(parsed()[0]).toMatchObject({ caseId: 'SAG-1', revision: 3, message: 'case snapshot recorded' });
});

test('a citizen reference or an authorization header is redacted even if a caller passes one', () => {
  const { logger, lines } = capture();
  logger.info('oops', { citizenRef: 'REF-SECRET', cpr: '0101701234', body: { citizenRef: 'REF-SECRET-2' }, headers: { authorization: 'Bearer key-secret' }, apiKey: 'key-secret-2' });
  expect(lines[0]).not.toMatch(/SECRET|secret/);
  expect(JSON.parse(lines[0]!)).toMatchObject({ citizenRef: '[redacted]', body: { citizenRef: '[redacted]' }, headers: { authorization: '[redacted]' } });
});

test('an Error in a field is written with its message, not as {}', () => {
  const { logger, parsed } = capture();
  logger.error('unhandled error', { error: new Error('boom') });
  logger.warn('pending fan-outs not started', { error: 'connection refused' });
  expect(parsed()[0]!.error).toMatchObject({ type: 'Error', message: 'boom' });
  expect(parsed()[1]!.error).toBe('connection refused');
});
