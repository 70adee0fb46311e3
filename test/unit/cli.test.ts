import { API_OPTIONS } from '../../cli/api-client';
import { commandLine, numberOption } from '../../cli/command-line';

const USAGE = 'usage: tool <command> [--api URL] [--key KEY]';

const parse = (argv: string[], options: { positionals?: boolean }) => commandLine('tool', USAGE, { ...API_OPTIONS, cases: { type: 'string' } }, { ...options, argv });

/** Runs a command line through commandLine, catching the exit and what was written. */
function run(argv: string[], options: { positionals?: boolean } = {}): { stdout: string; stderr: string; exitCode?: number; parsed?: ReturnType<typeof parse> } {
  const written = { stdout: '', stderr: '' };
  const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
    throw Object.assign(new Error('exit'), { exitCode: code });
  });
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((written.stdout += String(s)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((written.stderr += String(s)), true));
  try {
    return { ...written, parsed: parse(argv, options) };
  } catch (e) {
    return { ...written, exitCode: (e as { exitCode?: number }).exitCode };
  } finally {
    exit.mockRestore();
    out.mockRestore();
    err.mockRestore();
  }
}

test('options may come before or after the command words', () => {
  const { parsed } = run(['policy', '--api', 'http://x', 'resend', 'p1', '--key=k']);
  expect(parsed?.positionals).toEqual(['policy', 'resend', 'p1']);
  expect(parsed?.values).toMatchObject({ api: 'http://x', key: 'k' });
});

test('an unknown option stops the tool, naming it, with the usage', () => {
  const r = run(['verify', '--kye', 'k']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toBe(`tool: Unknown option '--kye'\n${USAGE}\n`);
});

test('an option without its value is refused, naming it', () => {
  const r = run(['verify', '--api']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("Option '--api <value>' argument missing");
});

test('--help and -h print the usage and exit 0', () => {
  for (const flag of ['--help', '-h']) {
    const r = run(['verify', flag]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`${USAGE}\n`);
  }
});

test('a tool without command words refuses a stray argument', () => {
  const r = run(['--cases', '5', '10'], { positionals: false });
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("tool: unexpected argument '10'");
});

test('a numeric option is a number, its default when absent, and refused when it is not a number', () => {
  expect(numberOption('tool', USAGE, 'cases', '2500', 10)).toBe(2500);
  expect(numberOption('tool', USAGE, 'cases', undefined, 10)).toBe(10);
  const exit = jest.spyOn(process, 'exit').mockImplementation(() => {
    throw new Error('exit');
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(() => numberOption('tool', USAGE, 'cases', 'ten', 10)).toThrow('exit');
    expect(err).toHaveBeenCalledWith(`tool: --cases must be a non-negative number, not 'ten'\n${USAGE}\n`);
  } finally {
    exit.mockRestore();
    err.mockRestore();
  }
});
