// latest.md: one table per protocol with every target side by side, then the target checks.
import type { FreezeFigures } from './freezes.ts';
import { addedWithAll, errorsAt, fixedAt } from './checks.ts';
import { fmtInt, fmtMb, fmtRate, fmtUs } from './fmt.ts';
import { PROTOCOL_TITLES } from './types.ts';
import type { PerfReport, Protocol, RunResult, SaturationResult, TargetCheck } from './types.ts';
import type { ControllerResult } from '../controller.ts';
import { mtlsSection } from './report-mtls.ts';

export { fmtInt, fmtMb, fmtRate, fmtUs } from './fmt.ts';

function signed(n: number): string {
  return `${n >= 0 ? '+' : '−'}${fmtInt(Math.abs(n))}`;
}

function memCell(r: RunResult, pick: 'idle' | 'afterSaturation' | 'peak'): string {
  if (r.memory.length === 0) return '–';
  const cell = r.memory.map((m) => fmtMb(m[pick])).join(' + ');
  // Idle read again once settled (checks.ts IDLE_SETTLED_TARGETS): both, first → settled.
  if (pick === 'idle' && r.memory.every((m) => m.idleSettled !== undefined)) return `${cell} → ${r.memory.map((m) => fmtMb(m.idleSettled ?? 0)).join(' + ')}`;
  return cell;
}

/** Proxy CPU per request; for mesh targets the controller's, apart, since it is not the proxy. */
function cpuCell(sat: SaturationResult | undefined): string {
  if (sat?.proxyCpuUsPerRequest == null) return '–';
  const ctl = sat.controllerCpuUsPerRequest;
  return `${sat.proxyCpuUsPerRequest.toFixed(1)}${ctl === undefined ? '' : ` (+ controller ${ctl.toFixed(2)})`}`;
}

export function protocolTable(runs: readonly RunResult[], protocol: Protocol, rates: readonly number[]): string {
  const rows = runs.filter((r) => r.protocol === protocol);
  const head = ['target', 'sat. req/s', 'proxy CPU µs/req', 'backend µs/req', 'RSS idle MB', 'RSS after sat. MB', 'RSS peak MB'];
  for (const rate of rates) head.push(`@${fmtRate(rate)}/s p50 / p99 / p99.9 µs`, `@${fmtRate(rate)}/s p99 added µs`);
  head.push('errors');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`];
  for (const r of rows) {
    if (!r.ok) {
      lines.push(`| ${r.target} | failed: ${(r.error ?? '').replace(/\|/g, '/').replace(/\s+/g, ' ').slice(0, 160)} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const sat = r.saturation;
    const cells = [
      r.target,
      sat === undefined ? '–' : fmtInt(sat.rps),
      cpuCell(sat),
      sat === undefined ? '–' : sat.backendCpuUsPerRequest.toFixed(1),
      memCell(r, 'idle'),
      memCell(r, 'afterSaturation'),
      memCell(r, 'peak'),
    ];
    let errors = sat?.errors ?? 0;
    for (const rate of rates) {
      const f = fixedAt(r, rate);
      if (f === undefined) {
        cells.push('–', '–');
        continue;
      }
      errors += errorsAt(r, rate);
      const l = f.latency;
      const short = f.achievedRate < rate * 0.98 ? ` (only ${fmtInt(f.achievedRate)}/s)` : '';
      cells.push(`${fmtUs(l.p50)} / ${fmtUs(l.p99)} / ${fmtUs(l.p999)}${short}`);
      cells.push(r.target === 'direct' ? '–' : addedWithAll(runs, r.target, protocol, rate, signed));
    }
    cells.push(fmtInt(errors));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function checksTable(checks: readonly TargetCheck[]): string {
  const lines = ['| target | limit | this run | |', '|:--|--:|--:|:-:|'];
  for (const c of checks) lines.push(`| ${c.name} | ${c.limit} | ${c.value} | ${c.pass === null ? '–' : c.pass ? '✓' : '✗'} |`);
  return lines.join('\n');
}

export function controllerTable(c: ControllerResult): string {
  if (!c.ok) return `Controller benchmark failed: ${(c.error ?? '').replace(/\s+/g, ' ').slice(0, 300)}`;
  const lines = ['| measure | value |', '|:--|--:|'];
  lines.push(`| watch streams (Destination.Get) / client channels | ${fmtInt(c.streams)} / ${c.channels} |`);
  lines.push(`| all streams got their first update in | ${fmtInt(c.allSubscribedMs)} ms |`);
  lines.push(`| controller RSS idle → with streams | ${fmtMb(c.rssIdle)} → ${fmtMb(c.rssWithStreams)} MB |`);
  lines.push(`| memory per stream | ${(c.bytesPerStream / 1024).toFixed(1)} KiB |`);
  c.propagation.forEach((p, i) => {
    lines.push(`| endpoint change ${i + 1} → all ${fmtInt(p.count)} streams, p50 / p99 / max | ${p.p50.toFixed(1)} / ${p.p99.toFixed(1)} / ${p.max.toFixed(1)} ms |`);
  });
  const t = c.telemetry;
  if (t !== undefined) {
    lines.push(`| telemetry ingestion (${t.clients} clients, ${fmtInt(t.reportBytes)} B reports) | ${fmtInt(t.reportsPerSecond)} reports/s |`);
    lines.push(`| controller CPU per report | ${fmtInt(t.controllerCpuUsPerReport)} µs |`);
    lines.push(`| telemetry errors | ${fmtInt(t.errors)} |`);
  }
  const m = c.mesh;
  if (m !== undefined) {
    // Results from before batching have no `batched`: they sent one call per direction; from before
    // ReportStream no `transport`: unary calls.
    const unit = m.transport === 'stream' ? `messages on ${fmtInt(m.streams ?? 0)} ReportStream streams` : 'Report calls';
    const calls = m.batched === true ? `${unit} (both directions in one)` : `${unit} (one per direction)`;
    lines.push(`| mesh: ${fmtInt(m.proxies)} proxies reporting every ${m.intervalMs / 1000} s, ${calls} answered / asked | ${fmtInt(m.reportsPerSecond)} / ${fmtInt(m.targetReportsPerSecond)} per s (${fmtInt(m.reportBytes[0])} + ${fmtInt(m.reportBytes[1])} B per proxy) |`);
    lines.push(`| mesh: controller CPU while ingesting | ${m.cpuPercentOfCore.toFixed(1)} % of a core (${fmtInt(m.cpuUsPerReport)} µs/call) |`);
    lines.push(`| mesh: stat deploy over the whole mesh (${fmtInt(m.statMs.rows)} rows, 1m), p50 / max | ${m.statMs.p50.toFixed(1)} / ${m.statMs.max.toFixed(1)} ms |`);
    lines.push(`| mesh: controller RSS; telemetry store keys, estimated bytes | ${fmtMb(m.rssBytes)} MB; ${fmtInt(m.storeKeys)}, ${fmtMb(m.storeBytes)} MB |`);
    lines.push(`| mesh: errors | ${fmtInt(m.errors)} |`);
    for (const other of c.meshRuns ?? []) {
      if (other === m) continue;
      const how = other.transport === 'stream' ? 'on ReportStream' : 'as unary Report calls';
      lines.push(`| mesh, reports ${how} (for comparison, same controller): controller CPU | ${other.cpuPercentOfCore.toFixed(1)} % of a core (${fmtInt(other.cpuUsPerReport)} µs/report, ${fmtInt(other.reportsPerSecond)} / ${fmtInt(other.targetReportsPerSecond)} per s, ${fmtInt(other.errors)} errors) |`);
    }
  }
  return lines.join('\n');
}

export function renderMarkdown(report: PerfReport, rates: readonly number[]): string {
  const m = report.machine;
  const out: string[] = [];
  out.push('# Sluice benchmark results', '');
  out.push(
    `${m.date} · commit \`${m.gitCommit.slice(0, 12)}\`${m.gitDirty ? ' (work tree had changes)' : ''} · ${m.cpuModel} × ${m.cores} · ${m.memoryGiB} GiB · Linux ${m.kernel} · Node ${m.node}`,
  );
  const tools = Object.entries(m.tools)
    .map(([k, v]) => `${k} ${v}`)
    .join(' · ');
  if (tools !== '') out.push('', tools);
  out.push('', `Run took ${Math.round(report.durationSeconds)} s. Settings: \`${JSON.stringify(report.settings)}\``);
  out.push(
    '',
    'Proxy and backend pinned to core 0, load generators and the mesh targets\' controller to core 1. Saturation: autocannon (HTTP/1.1) / h2load (h2c, gRPC); ' +
      'fixed rates: the open-loop generator (latency from the scheduled send time). CPU µs/req = proxy CPU seconds ' +
      '(utime+stime of all its threads, both proxies for sluice-2 and sluice-mesh-2) ÷ successful requests of the saturation run; ' +
      'for the mesh targets (sluice-mesh*: clients send backend.perf.svc.cluster.local:80, resolved through the controller) the controller\'s CPU is shown apart. ' +
      'Backend µs/req = the backend\'s CPU per request in the same run: it does the same work in every run, so it measures the core\'s speed then, ' +
      'and the CPU and saturation checks compare targets at equal core speed (the core slows ~1.7× for minutes at a time on these VMs; docs/performance.md). ' +
      'Memory in MB (10⁶ bytes), VmRSS; "a + b" = proxy A + proxy B. ' +
      'Fixed rates run in rounds with every target of the protocol running: each round gives every target, direct included, one run at the rate (even rounds in reverse order). ' +
      'p99 added = p99 − p99 of direct\'s run in the same round, same protocol and rate; the round kept (its latencies shown) is the median by p99 added, of two the worse, and every round\'s figure is in brackets (direct\'s row shows its median round by its own p99); ' +
      'where a freeze sentinel watched both cores, of the requests that no core freeze touched (see below), with the figure over all requests in brackets too. Errors count every round.',
  );
  const split = freezeSplitLine(report.runs);
  if (split !== undefined) out.push('', split);
  const fz = report.freezes;
  if (fz !== undefined) {
    const one = (f: FreezeFigures): string =>
      `core ${f.core}: ${f.count} (longest ${f.longestMs.toFixed(1)} ms, ${(f.frozenShare * 100).toFixed(2)} % of the time)`;
    out.push(
      '',
      `**Core freezes** (the machine's, not Sluice's: gaps over ${(fz.before[0] ?? fz.after[0])?.thresholdMs ?? 3} ms in the clock readings of a thread spinning on each otherwise idle core, ` +
        `${(fz.before[0] ?? fz.after[0])?.seconds ?? 0} s before the first run and after the last; perf/lib/freezes.ts): ` +
        `before — ${fz.before.map(one).join(', ') || 'not measured'}; after — ${fz.after.map(one).join(', ') || 'not measured'}. ` +
        'Every process on a frozen core waits, direct and HAProxy alike; at 1,000 req/s a freeze per second of a few ms holds ~1 % of requests, so p99 there is set by the freezes and by how fast each chain drains what queued behind them.',
    );
  }
  if (report.skipped.length > 0) {
    out.push('', '**Skipped:** ' + report.skipped.map((s) => `${s.target} (${s.reason})`).join('; '));
  }
  out.push('', '## Target checks', '', checksTable(report.checks));
  const protocols = [...new Set(report.runs.map((r) => r.protocol))];
  for (const p of protocols) {
    out.push('', `## ${PROTOCOL_TITLES[p]}`, '', protocolTable(report.runs, p, rates));
    const notes = report.runs.filter((r) => r.protocol === p).flatMap((r) => r.notes.map((n) => `- ${r.target}: ${n}`));
    if (notes.length > 0) out.push('', ...notes);
    out.push('', `![latency by percentile](latency-${p}.svg)`);
  }
  out.push(...mtlsSection(report.runs, report.handshakes, rates));
  if (report.controller !== undefined) {
    out.push(
      '',
      '## Controller',
      '',
      'One controller (file discovery, pinned to core 0); the watch streams and telemetry clients run in the benchmark process. ' +
        'Propagation: from the discovery file being renamed into place until each stream received the `add` for the new endpoint.',
      '',
      controllerTable(report.controller),
    );
  }
  out.push('');
  return out.join('\n');
}

/**
 * What the freeze sentinels saw across all fixed-rate runs: a real-time thread per core that wakes every
 * millisecond; a wake-up late by more than 1 ms means the core ran nothing at all meanwhile. They also
 * watch the kernel's DAMON thread (kdamond): its windows are counted, and not left out of p99 added.
 */
function freezeSplitLine(runs: readonly RunResult[]): string | undefined {
  let freezes = 0;
  let frozenMs = 0;
  let windows = 0;
  let windowMs = 0;
  let touched = 0;
  let touchedAny = 0;
  let ok = 0;
  let seconds = 0;
  for (const r of runs) {
    for (const f of r.fixed) {
      if (f.outsideFreezes === undefined) continue;
      freezes += f.outsideFreezes.freezes;
      frozenMs += f.outsideFreezes.frozenMs;
      touched += f.outsideFreezes.touched;
      const hk = f.outsideFreezes.housekeeping;
      windows += hk?.windows ?? 0;
      windowMs += hk?.ms ?? 0;
      touchedAny += hk?.touched ?? f.outsideFreezes.touched;
      ok += f.ok;
      seconds += f.seconds;
    }
  }
  if (ok === 0) return undefined;
  const share = (n: number): string => `${((n / ok) * 100).toFixed(2)} %`;
  const kernel =
    windows === 0
      ? ''
      : ` The sentinels also saw ${fmtInt(windows)} windows (${fmtInt(windowMs)} ms) in which the kernel's DAMON thread (kdamond, the memory monitor this VM runs) held a core; with them, ${share(touchedAny)} of the requests were touched. ` +
        "Those are *not* left out of p99 added (so many would change what p99 means); each run's line in the log gives the p99 without them too.";
  return (
    `**Core freezes during the fixed-rate runs** (perf/loadgen/freeze-sentinel.ts: a real-time thread on each core that wakes every millisecond; waking more than 1 ms late means the core ran nothing at all meanwhile): ` +
    `${fmtInt(freezes)} freezes in ${fmtInt(seconds)} s of measuring, ${fmtInt(frozenMs)} ms in all; they touched ${share(touched)} of the requests ` +
    '(in flight or sent while a core was frozen). p99 added leaves those out on both sides: they waited for the machine, not for a proxy. Requests sent after a freeze but queued behind its backlog stay in, so how fast a chain drains it is still measured.' +
    kernel
  );
}
