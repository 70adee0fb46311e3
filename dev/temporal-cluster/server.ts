import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { type TemporalTlsFiles, temporalTlsOptions } from '../../platform/tls-certificates';
import { devServerGoEnv } from '../dev-server';
import { type ClusterTools } from './tools';

/** How a process of the engine's own tooling connects to a cluster: its address, and its certificates when the frontend asks for them. */
export function clusterConnectionOptions(address: string, tls?: TemporalTlsFiles): { address: string; tls?: ReturnType<typeof temporalTlsOptions> } {
  return tls ? { address, tls: temporalTlsOptions(tls) } : { address };
}

/** Waits until the frontend answers; rejects early when the process has exited. */
export async function waitForFrontend(address: string, child: ChildProcess | undefined, withinMs = 60_000, log?: () => string, tls?: TemporalTlsFiles): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the Temporal server exited during start-up (${child.signalCode ?? child.exitCode})${log ? `:\n${log()}` : ''}`);
    }
    try {
      const connection = await Connection.connect({ ...clusterConnectionOptions(address, tls), connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal did not answer on ${address} within ${withinMs / 1000} s: ${String(err)}`);
      await delay(250);
    }
  }
}

/** The Temporal server process, with the Go runtime settings of the dev server (dev/dev-server.ts). */
export function spawnTemporalServer(tools: Pick<ClusterTools, 'server'>, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(tools.server, args, { env: { ...env, ...devServerGoEnv(env) }, stdio: ['ignore', 'pipe', 'pipe'] });
}
