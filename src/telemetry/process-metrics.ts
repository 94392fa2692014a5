// process_* metrics (Prometheus client conventions) for the whole proxy process, all threads included.
import { readdirSync, readFileSync } from 'node:fs';
import type { FamilySnapshot } from './metrics.ts';

const startTimeSeconds = Math.round((Date.now() - performance.now()) / 1000);

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function gauge(name: string, help: string, value: number, kind: 'gauge' | 'counter' = 'gauge'): FamilySnapshot {
  return { name, help, kind, series: [['', value]] };
}

export function processMetrics(): FamilySnapshot[] {
  const cpu = process.cpuUsage();
  const families = [
    gauge('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6, 'counter'),
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', process.memoryUsage.rss()),
    gauge('process_start_time_seconds', 'Time that the process started (in seconds since the UNIX epoch).', startTimeSeconds),
  ];
  const fds = openFds();
  if (fds !== undefined) families.push(gauge('process_open_fds', 'Number of open file descriptors.', fds));
  const max = maxFds();
  if (max !== undefined) families.push(gauge('process_max_fds', 'Maximum number of open file descriptors.', max));
  return families;
}
