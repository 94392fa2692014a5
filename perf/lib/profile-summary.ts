// "Where the time goes": top self-time functions from a V8 .cpuprofile (node --cpu-prof) or from the
// samples file of `clinic flame` (0x: one array of frames per tick, root first, leaf last).

export interface HotSpot {
  /** Function name and location, e.g. `onData src/workers/http1.ts:120`. */
  name: string;
  /** Share of all samples, 0–100. */
  percent: number;
  /** Self time in ms (cpuprofile) or ticks (clinic). */
  self: number;
}

function shortUrl(url: string, root: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (root !== '' && u.startsWith(root)) u = u.slice(root.length).replace(/^\/+/, '');
  return u;
}

function top(map: Map<string, number>, total: number, n: number): HotSpot[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, self]) => ({ name, self, percent: total > 0 ? (100 * self) / total : 0 }));
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time per function (name + file:line), summed over any number of profiles (e.g. one per thread).
 * `(idle)` samples are left out of the ranking and the percentages (which are of busy time) and returned apart.
 */
export function topFromCpuProfiles(profiles: readonly CpuProfile[], n: number, root = ''): { total: number; idle: number; spots: HotSpot[] } {
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const p of profiles) {
    const label = new Map<number, string>();
    for (const node of p.nodes) {
      const f = node.callFrame;
      const where = f.url === '' ? '' : ` ${shortUrl(f.url, root)}:${f.lineNumber + 1}`;
      label.set(node.id, `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`);
    }
    for (let i = 0; i < p.samples.length; i++) {
      const us = p.timeDeltas[i] ?? 0;
      const key = label.get(p.samples[i] as number) ?? '(unknown)';
      if (key === '(idle)') {
        idle += us / 1000;
        continue;
      }
      self.set(key, (self.get(key) ?? 0) + us / 1000);
      total += us / 1000;
    }
  }
  return { total, idle, spots: top(self, total, n) };
}

export interface ClinicFrame {
  name: string;
  type: string;
}

/** Self ticks per leaf frame of clinic flame samples; empty stacks count as `(no stack)`. */
export function topFromClinicSamples(samples: readonly ClinicFrame[][], n: number, root = ''): { total: number; spots: HotSpot[] } {
  const self = new Map<string, number>();
  for (const stack of samples) {
    const leaf = stack[stack.length - 1];
    let key = '(no stack)';
    if (leaf !== undefined) {
      const name = leaf.name.trim().replace(/ file:\/\//, ' ');
      key = `${root === '' ? name : name.split(root + '/').join('')} [${leaf.type}]`;
    }
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  return { total: samples.length, spots: top(self, samples.length, n) };
}

export function formatHotSpots(spots: readonly HotSpot[], unit: string): string {
  const lines = spots.map((s) => `${s.percent.toFixed(1).padStart(5)} %  ${s.self.toFixed(unit === 'ms' ? 1 : 0).padStart(8)} ${unit}  ${s.name}`);
  return lines.join('\n');
}
