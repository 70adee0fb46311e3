import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { eventually } from '../../dev/eventually';

/*
 * What the two suites of `npm run dev` share (local-stack.test.ts, cluster-local-stack.test.ts): the stack run as
 * the README's first command runs it (dist/dev/local-stack.js, built by Jest's global setup), its output, a wait
 * on it, and the processes below it.
 */
const root = path.resolve(__dirname, '..', '..');

export interface LocalStackProcess {
  child: ChildProcess;
  /** Everything it printed so far, standard output and error together. */
  output(): string;
}

/** Starts npm run dev's stack with `args` (e.g. --cluster) and `env` over this process's environment. */
export function startLocalStack(args: string[], env: Record<string, string>): LocalStackProcess {
  let output = '';
  const child = spawn(process.execPath, [path.join(root, 'dist', 'dev', 'local-stack.js'), ...args], {
    cwd: root,
    // No read model of the caller's: the stack starts its own Postgres.
    env: { ...process.env, DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

/** The shared bounded wait (90 s here: a stack's first start), with the end of the stack's output when it runs out. */
export async function until(check: () => Promise<boolean>, what: string, output: () => string): Promise<void> {
  await eventually(() => check().catch(() => false), (ok) => ok, what, 450).catch((err: Error) => {
    throw new Error(`${err.message}. Output:\n${output().slice(-6000)}`);
  });
}

/** Every process below `pid`, with its command line, from /proc. */
export function descendants(pid: number): { pid: number; command: string }[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const found: { pid: number; command: string }[] = [];
  const walk = (p: number) =>
    (children.get(p) ?? []).forEach((c) => {
      let command = '';
      try {
        command = readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        // ended meanwhile
      }
      found.push({ pid: c, command });
      walk(c);
    });
  walk(pid);
  return found;
}

/** True while the process runs (not ended, not a zombie). */
export const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

/** SIGTERM, and the exit code. */
export async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}
