import { readFileSync, readdirSync } from 'node:fs';

/* What a benchmark measures of the processes it starts (Linux /proc): CPU seconds and memory; and percentiles. */

export interface CpuSeconds {
  temporal: number;
  worker: number;
  postgres: number;
  /** This process: the benchmark's own client. */
  bench: number;
  api: number;
}

/** The p-th percentile of the values (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds of one process from /proc/<pid>/stat (Linux): user plus system time of all its threads, and
 * with `children` also of its ended, waited-for children. After "pid (comm) " the fields are numbered
 * from 3 (state): utime is 14, stime 15, cutime 16, cstime 17 (proc(5)).
 */
function statCpuSeconds(pid: number | string, children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
  const ticks = fields[11]! + fields[12]! + (children ? fields[13]! + fields[14]! : 0);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds of one process so far; 0 once it has ended. */
export function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    return statCpuSeconds(pid);
  } catch {
    return 0; // the process has ended
  }
}

/**
 * CPU seconds of this stack's Postgres: its postmaster (the postgres process whose command line names the
 * stack's data folder) and every backend it forked, ended ones included (a postmaster's cutime). Other
 * Postgres servers on the machine (other benchmarks, test suites) are not counted.
 */
export function postgresCpuSeconds(dataDir: string | undefined): number {
  if (!dataDir) return 0;
  const pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  let postmaster: string | undefined;
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir)) postmaster = pid;
    } catch {
      // the process ended between listing and reading
    }
  }
  if (!postmaster) return 0;
  let total = statCpuSeconds(postmaster, true);
  for (const pid of pids) {
    try {
      const ppid = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1];
      if (ppid === postmaster) total += statCpuSeconds(pid);
    } catch {
      // the process ended between listing and reading
    }
  }
  return total;
}

/** The CPU seconds each part used between two readings. */
export function cpuDelta(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return Object.fromEntries((Object.keys(after) as (keyof CpuSeconds)[]).map((k) => [k, after[k] - before[k]])) as unknown as CpuSeconds;
}

/** The CPU seconds each part used between two readings, as one line (parts that never ran left out). */
export function cpuUsed(before: CpuSeconds, after: CpuSeconds): string {
  const used = cpuDelta(before, after);
  return (Object.keys(after) as (keyof CpuSeconds)[])
    .filter((k) => after[k] > 0)
    .map((k) => `${k} ${used[k].toFixed(1)}`)
    .join(', ');
}

/** Peak resident memory of a process, in MB (Linux). */
export function peakRssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

/** Resident memory of a process now, in MB (Linux). */
export function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return NaN;
  }
}
