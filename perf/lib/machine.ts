// What machine and software a benchmark run was made on, for the results' header.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { which } from './procs.ts';
import type { MachineInfo } from './types.ts';

function sh(root: string, cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

export function machineInfo(root: string): MachineInfo {
  const tools: Record<string, string> = {};
  const first = (s: string): string => s.split('\n')[0] ?? '';
  if (which('haproxy') !== null) tools['haproxy'] = first(sh(root, 'haproxy', ['-v'])).replace(/^HAProxy version /, '').split(' ')[0] ?? '';
  if (which('nginx') !== null) tools['nginx'] = sh(root, 'nginx', ['-v']).replace(/^nginx version: nginx\//, '');
  if (which('h2load') !== null) tools['h2load'] = first(sh(root, 'h2load', ['--version'])).replace(/^h2load nghttp2\//, '');
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'node_modules', 'autocannon', 'package.json'), 'utf8')) as { version: string };
    tools['autocannon'] = pkg.version;
  } catch {
    // not installed
  }
  const commit = sh(root, 'git', ['rev-parse', 'HEAD']);
  return {
    date: new Date().toISOString(),
    host: hostname(),
    kernel: release(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    gitCommit: /^[0-9a-f]{40}$/.test(commit) ? commit : 'unknown',
    gitDirty: sh(root, 'git', ['status', '--porcelain', '--untracked-files=no']) !== '',
    tools,
  };
}

