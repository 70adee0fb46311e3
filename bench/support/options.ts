import { setTimeout as sleep } from 'node:timers/promises';
import { commandLine, numberOption } from '../../cli/command-line';

/* A benchmark's command line and output. */

export { sleep };
export const say = (text: string) => process.stdout.write(`${text}\n`);

/** Node flags for a process the bench starts, from an environment variable (space-separated). */
export function nodeArgsFrom(variable: string): string[] {
  return (process.env[variable] ?? '').split(' ').filter(Boolean);
}

/**
 * A benchmark's numeric options (`--cases 10000`), each with its default; an unknown option or a value that
 * is not a number stops the benchmark with the usage, `--help` prints it.
 */
export function benchOptions<K extends string, S extends string = never>(
  program: string,
  usage: string,
  defaults: Record<K, number>,
  strings: readonly S[] = [],
): Record<K, number> & Partial<Record<S, string>> {
  const names = Object.keys(defaults) as K[];
  const { values } = commandLine(program, usage, Object.fromEntries([...names, ...strings].map((n) => [n, { type: 'string' as const }])), { positionals: false });
  const given = values as Partial<Record<K | S, string>>;
  return {
    ...Object.fromEntries(strings.filter((n) => given[n] !== undefined).map((n) => [n, given[n]])),
    ...Object.fromEntries(names.map((n) => [n, numberOption(program, usage, n, given[n], defaults[n])])),
  } as Record<K, number> & Partial<Record<S, string>>;
}
