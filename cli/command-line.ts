import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * The command line of a tool (ops CLI, demo, benchmarks), read by Node's `util.parseArgs`: options may come
 * before or after the positionals; an unknown option, an option without its value or (when `positionals` is
 * false) a stray argument stops the tool with the problem, naming the option, and the usage (exit 2);
 * `--help` or `-h` prints the usage (exit 0).
 */
export function commandLine<O extends OptionSpecs>(
  program: string,
  usage: string,
  options: O,
  { positionals = true, argv = process.argv.slice(2) }: { positionals?: boolean; argv?: string[] } = {},
) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, ...HELP } as O & typeof HELP, allowPositionals: true, strict: true });
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    if (!positionals && parsed.positionals.length > 0) usageError(program, usage, `unexpected argument '${parsed.positionals[0]}'`);
    return parsed;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) usageError(program, usage, (err as Error).message);
    throw err;
  }
}

/** Stops a tool whose command line is wrong: the problem, then the usage, on stderr; exit status 2. */
export function usageError(program: string, usage: string, problem: string): never {
  // parseArgs adds how to pass a positional that begins with '-', which no command here takes.
  process.stderr.write(`${program}: ${problem.replace(/\. To specify a positional argument.*$/s, '')}\n${usage}\n`);
  process.exit(2);
}

/** A numeric option: its value as a number, the fallback when absent; anything but a non-negative number is a usage error. */
export function numberOption(program: string, usage: string, name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) usageError(program, usage, `--${name} must be a non-negative number, not '${value}'`);
  return n;
}
