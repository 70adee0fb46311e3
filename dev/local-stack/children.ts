import { type ChildProcess, spawn } from 'node:child_process';
import { say } from './output';

/**
 * The local stack's child processes: each one's output prefixed with its name, and its exit watched. A child
 * whose exit stops everything calls `onFatalExit`; a `replica` of a role that runs twice (the cluster's workers
 * and APIs) is reported while the others carry on, as in production, until the last one of its role exits.
 */
export function createChildren({ cwd, env, onFatalExit }: { cwd: string; env: NodeJS.ProcessEnv; onFatalExit: () => void }) {
  const children: ChildProcess[] = [];
  const replicas = new Map<ChildProcess, string>();
  let stopping = false;

  function prefixed(name: string, child: ChildProcess): ChildProcess {
    const forward = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) stream.write(`[${name}] ${line}\n`);
    };
    child.stdout?.on('data', forward(process.stdout));
    child.stderr?.on('data', forward(process.stderr));
    return child;
  }

  /** Watches a child started elsewhere (its output prefixed with `name`). */
  function watch(name: string, child: ChildProcess, replica?: { role: string }): ChildProcess {
    children.push(prefixed(name, child));
    if (replica) replicas.set(child, replica.role);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const others = [...replicas].filter(([c, role]) => c !== child && role === replica?.role && c.exitCode === null && c.signalCode === null);
      if (replica && others.length > 0) {
        say(`${name} exited (${signal ?? code}); ${others.length} other ${replica.role}${others.length > 1 ? 's' : ''} carr${others.length > 1 ? 'y' : 'ies'} on`);
        return;
      }
      say(`${name} exited (${signal ?? code}); stopping everything`);
      onFatalExit();
    });
    return child;
  }

  /** Starts a child and watches it. */
  function start(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}, replica?: { role: string }): ChildProcess {
    return watch(name, spawn(command, args, { cwd, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }), replica);
  }

  async function stopChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  return {
    start,
    watch,
    /** True once stopAll has begun: exits are no longer reported. */
    get stopping() {
      return stopping;
    },
    /** Stops the children in the reverse order of their start: the API first (no new work), then the worker, then the servers they talk to. */
    async stopAll(): Promise<void> {
      stopping = true;
      for (const child of [...children].reverse()) await stopChild(child);
    },
  };
}

export type Children = ReturnType<typeof createChildren>;
