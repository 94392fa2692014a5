// The "mTLS" section of latest.md: the cost of mutual TLS on the mesh hop, side by side with plaintext —
// per protocol the two-proxy mesh chain with identities (sluice-mesh-2-mtls) against the same chain
// without (sluice-mesh-2) on warm connections, then what new connections cost the inbound proxy
// (perf/handshakes.ts). The figures come from the same run as the protocol tables.
import { MTLS_PLAINTEXT, MTLS_TARGET, errorsAt, find, p99Added } from './checks.ts';
import { fmtInt, fmtMb, fmtRate } from './fmt.ts';
import { PROTOCOL_TITLES, PROTOCOLS } from './types.ts';
import type { HandshakeMode, HandshakeResult, RunResult } from './types.ts';

const MODE_TITLES: Record<HandshakeMode, string> = {
  plain: 'plaintext TCP',
  'tls-full': 'mTLS, full handshake',
  'tls-resumed': 'mTLS, resumed (session ticket)',
};

function pair(plain: string, mtls: string): string {
  return `${plain} / ${mtls}`;
}

function signedUs(n: number | null): string {
  return n === null ? '–' : `${n >= 0 ? '+' : '−'}${fmtInt(Math.abs(n))}`;
}

function afterSaturation(r: RunResult | undefined): string {
  if (r === undefined || r.memory.length === 0) return '–';
  return r.memory.map((m) => fmtMb(m.afterSaturation)).join(' + ');
}

/** Warm connections: one row per protocol with both targets measured (or failed: said so). */
export function mtlsWarmTable(runs: readonly RunResult[], rates: readonly number[]): string {
  const head = ['protocol', 'proxy CPU µs/req plaintext / mTLS', 'mTLS ÷ plaintext', 'sat. req/s plaintext / mTLS'];
  for (const rate of rates) head.push(`@${fmtRate(rate)}/s p99 added µs plaintext / mTLS`);
  head.push('RSS after sat. MB plaintext / mTLS', 'errors mTLS');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`];
  for (const p of PROTOCOLS) {
    const plain = find(runs, MTLS_PLAINTEXT, p);
    const mtls = find(runs, MTLS_TARGET, p);
    const failed = runs.find((r) => r.target === MTLS_TARGET && r.protocol === p && !r.ok);
    if (failed !== undefined) {
      lines.push(`| ${PROTOCOL_TITLES[p]} | ${MTLS_TARGET} failed: ${(failed.error ?? '').replace(/\|/g, '/').replace(/\s+/g, ' ').slice(0, 200)} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    if (mtls === undefined) continue;
    const cpuPlain = plain?.saturation?.proxyCpuUsPerRequest ?? null;
    const cpuMtls = mtls.saturation?.proxyCpuUsPerRequest ?? null;
    const cells = [
      PROTOCOL_TITLES[p],
      pair(cpuPlain === null ? '–' : cpuPlain.toFixed(1), cpuMtls === null ? '–' : cpuMtls.toFixed(1)),
      cpuPlain === null || cpuMtls === null || cpuPlain <= 0 ? '–' : `${(cpuMtls / cpuPlain).toFixed(2)}×`,
      pair(plain?.saturation === undefined ? '–' : fmtInt(plain.saturation.rps), mtls.saturation === undefined ? '–' : fmtInt(mtls.saturation.rps)),
    ];
    let errors = mtls.saturation?.errors ?? 0;
    for (const rate of rates) {
      errors += errorsAt(mtls, rate);
      cells.push(pair(signedUs(p99Added(runs, MTLS_PLAINTEXT, p, rate)), signedUs(p99Added(runs, MTLS_TARGET, p, rate))));
    }
    cells.push(pair(afterSaturation(plain), afterSaturation(mtls)), fmtInt(errors));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** New connections into the inbound proxy: one row per mode, CPU relative to plaintext. */
export function handshakeTable(h: HandshakeResult): string {
  if (!h.ok) return `Handshake benchmark failed: ${(h.error ?? '').replace(/\s+/g, ' ').slice(0, 300)}`;
  const plain = h.runs.find((r) => r.mode === 'plain')?.proxyCpuUsPerConnection;
  const lines = [
    '| connection | connections/s (one client) | inbound proxy CPU µs/connection | ÷ plaintext | client CPU µs/connection | p50 / p99 µs | resumed | errors |',
    '|:--|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of h.runs) {
    const rel = plain === undefined || plain <= 0 ? '–' : `${(r.proxyCpuUsPerConnection / plain).toFixed(2)}×`;
    const resumed = r.mode === 'plain' ? '–' : `${fmtInt(r.resumed)} of ${fmtInt(r.connections)}`;
    lines.push(
      `| ${MODE_TITLES[r.mode]} | ${fmtInt(r.perSecond)} | ${fmtInt(r.proxyCpuUsPerConnection)} | ${rel} | ${fmtInt(r.clientCpuUsPerConnection)} | ` +
        `${fmtInt(r.latencyUs.p50)} / ${fmtInt(r.latencyUs.p99)} | ${resumed} | ${fmtInt(r.errors)} |`,
    );
  }
  return lines.join('\n');
}

/** Both tables, as the console summary prints them. */
export function mtlsTables(runs: readonly RunResult[], handshakes: HandshakeResult | undefined, rates: readonly number[]): string {
  const parts = [mtlsWarmTable(runs, rates)];
  if (handshakes !== undefined) parts.push(handshakeTable(handshakes));
  return parts.join('\n\n');
}

/** The section of latest.md (empty when neither the mTLS target nor the handshakes ran). */
export function mtlsSection(runs: readonly RunResult[], handshakes: HandshakeResult | undefined, rates: readonly number[]): string[] {
  if (!runs.some((r) => r.target === MTLS_TARGET) && handshakes === undefined) return [];
  const out = [
    '',
    '## mTLS',
    '',
    `Warm connections: ${MTLS_TARGET} (both proxies hold certificates from the controller's Identity service; the A → B hop is mutual TLS, ` +
      `verified in both proxies' metrics before any figure) against ${MTLS_PLAINTEXT} (the same chain, no identities). CPU is both proxies', ` +
      'from the saturation runs; p99 added is over direct at the same rate.',
    '',
    mtlsWarmTable(runs, rates),
  ];
  if (handshakes !== undefined) {
    out.push(
      '',
      'New connections: a client with a mesh certificate (SNI = the inbound proxy\'s identity, ALPN transport.l5d.io/v1) opens connections ' +
        'straight to one inbound proxy in a loop, one HTTP/1.1 request each, `Connection: close`; plaintext is the same client over TCP. ' +
        'The inbound proxy\'s CPU per connection does not depend on the client; connections/s is what this one client reached on its core.',
      '',
      handshakeTable(handshakes),
    );
    if (handshakes.notes.length > 0) out.push('', ...handshakes.notes.map((n) => `- ${n}`));
  }
  return out;
}
