import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The stack's child processes. Each one's output is either printed with its name in front of every line
 * (`prefixed`: npm run dev) or, for the benchmarks and tests, only its standard error as it comes (`quiet`:
 * a worker's or the API's error shows, the servers' chatter does not). The last lines of every child are kept
 * for the error when a server fails to start. An exit that nobody asked for (not `kill` nor `stopAll`) is
 * passed to `onExit`.
 */
export type Part = 'temporal' | 'temporal-ui' | 'worker' | 'api';

/** The order stopAll stops the parts in: the APIs first (no new work), then the workers, then the servers they talk to. */
const STOP_ORDER: Part[] = ['api', 'worker', 'temporal-ui', 'temporal'];

export interface Children {
  start(name: string, part: Part, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess;
  /** The last 4,000 characters a child wrote. */
  tail(child: ChildProcess): string;
  /** The running children of a part. */
  running(part: Part): ChildProcess[];
  /** Sends `signal` and waits for the exit (SIGKILL after 15 s); the exit is not reported. */
  kill(child: ChildProcess | undefined, signal?: NodeJS.Signals): Promise<void>;
  /** True once stopAll has begun. */
  readonly stopping: boolean;
  /** Stops the children part by part in STOP_ORDER, the processes of one part together. */
  stopAll(): Promise<void>;
}

export const isRunning = (child: ChildProcess | undefined): child is ChildProcess => Boolean(child && child.exitCode === null && child.signalCode === null);

export function createChildren(options: {
  cwd: string;
  output: 'prefixed' | 'quiet';
  /** `others`: how many other processes of the same part still run. */
  onExit?: (exit: { name: string; part: Part; code: number | null; signal: NodeJS.Signals | null; others: number }) => void;
}): Children {
  const children: { child: ChildProcess; part: Part }[] = [];
  const tails = new Map<ChildProcess, string>();
  const asked = new Set<ChildProcess>();
  let stopping = false;

  function forward(name: string, part: Part, child: ChildProcess): void {
    const keep = (chunk: Buffer) => tails.set(child, ((tails.get(child) ?? '') + chunk.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    if (options.output === 'prefixed') {
      const lines = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (line.trim()) stream.write(`[${name}] ${line}\n`);
      };
      child.stdout?.on('data', lines(process.stdout));
      child.stderr?.on('data', lines(process.stderr));
    } else if (part === 'worker' || part === 'api') {
      child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    }
  }

  async function kill(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!isRunning(child)) return;
    asked.add(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }

  return {
    start(name, part, command, args, env) {
      const child = spawn(command, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push({ child, part });
      forward(name, part, child);
      child.on('exit', (code, signal) => {
        if (stopping || asked.has(child)) return;
        const others = children.filter((c) => c.part === part && c.child !== child && isRunning(c.child)).length;
        options.onExit?.({ name, part, code, signal, others });
      });
      return child;
    },
    tail: (child) => tails.get(child) ?? '',
    running: (part) => children.filter((c) => c.part === part && isRunning(c.child)).map((c) => c.child),
    kill,
    get stopping() {
      return stopping;
    },
    async stopAll() {
      stopping = true;
      for (const part of STOP_ORDER) await Promise.all(children.filter((c) => c.part === part).map((c) => kill(c.child)));
    },
  };
}
