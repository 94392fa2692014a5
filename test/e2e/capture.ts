// Packet capture for the end-to-end tests: tcpdump records an interface of a network namespace into a
// pcap file, and tshark (Debian's) reads it back: the TCP connections in it, their reassembled bytes,
// and the TLS ClientHellos (SNI, ALPN). What is concluded from those is capture-analysis.ts.
//
// Traps, measured here: tcpdump without `--immediate-mode` under `ip netns exec` can end with
// "0 packets captured" although the filter received them (the packets sat in a kernel buffer block
// that was never handed over before SIGTERM); and as root it drops to user `tcpdump` before opening
// the output file, so `-Z root` keeps it able to write into a directory only root may write.
import { spawnSync } from 'node:child_process';
import { cleanEnv, Owned, Proc, type Where } from './netns.ts';
import { parseFollowRaw, type ClientHello, type Endpoint, type FollowedStream, type TcpStreamSummary } from './capture-analysis.ts';

/**
 * The kernel's capture buffer. tcpdump's default (2 MiB) lost a dozen packets of pod B's loopback under
 * the full suite (64 KiB GSO packets, a 256 KiB exchange twice, on a loaded 2-core machine).
 */
const BUFFER_KIB = 32 * 1024;

export interface Capture {
  readonly file: string;
  readonly proc: Proc;
}

/** Starts tcpdump on `iface` of namespace `ns`, writing every full packet to `file`; resolves once it listens. */
export async function startCapture(owned: Owned, ns: string, iface: string, file: string): Promise<Capture> {
  const where: Where = { ns };
  const proc = owned.proc(new Proc(`tcpdump (${ns} ${iface})`, where, 'tcpdump', ['-i', iface, '-n', '-s', '0', '-B', String(BUFFER_KIB), '-U', '--immediate-mode', '-Z', 'root', '-w', file]));
  await proc.waitForOutput(/listening on /, 10_000);
  return { file, proc };
}

export interface CaptureCounts {
  readonly captured: number;
  readonly dropped: number;
}

/** Stops tcpdump (SIGTERM makes it flush and report) and returns what it counted. */
export async function stopCapture(capture: Capture): Promise<CaptureCounts> {
  await capture.proc.stop(5000);
  const log = capture.proc.log;
  const captured = /(\d+) packets? captured/.exec(log);
  const dropped = /(\d+) packets? dropped by kernel/.exec(log);
  if (captured === null || dropped === null) throw new Error(`tcpdump did not report its counts:\n${capture.proc.describe()}`);
  return { captured: Number(captured[1]), dropped: Number(dropped[1]) };
}

/**
 * tshark's output; its "Running as user root" warning goes to stderr and is ignored. Reassembled streams
 * print as hex (twice their size), far beyond spawnSync's default 1 MiB, which would cut them silently.
 */
function tshark(args: readonly string[]): string {
  const r = spawnSync('tshark', args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 512 * 1024 * 1024, env: cleanEnv() });
  if (r.error !== undefined || r.status !== 0) throw new Error(`tshark ${args.join(' ')} → ${r.error?.message ?? `exit ${r.status}`}\n${r.stderr}`);
  return r.stdout;
}

/** Every TCP connection in `file`: who opened it (when seen) and how many payload octets it carried. */
export function tcpStreams(file: string): TcpStreamSummary[] {
  const out = tshark(['-r', file, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=/t', '-e', 'tcp.stream', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'tcp.len']);
  const streams = new Map<number, { opener: Endpoint | undefined; payloadBytes: number }>();
  for (const line of out.split('\n')) {
    const [index, ip, port, syn, ack, len] = line.split('\t');
    if (index === undefined || index === '' || ip === undefined) continue;
    const stream = streams.get(Number(index)) ?? { opener: undefined, payloadBytes: 0 };
    // tshark prints flags as 1/0 or True/False depending on the version.
    const set = (flag: string | undefined): boolean => flag === '1' || flag === 'True';
    if (set(syn) && !set(ack) && stream.opener === undefined) stream.opener = { ip, port: Number(port) };
    stream.payloadBytes += Number(len ?? 0);
    streams.set(Number(index), stream);
  }
  return [...streams].map(([index, s]) => ({ index, ...s })).sort((a, b) => a.index - b.index);
}

/** The reassembled bytes of the given TCP streams, both directions, in one tshark run. */
export function followStreams(file: string, indexes: readonly number[]): FollowedStream[] {
  if (indexes.length === 0) return [];
  return parseFollowRaw(tshark(['-r', file, '-q', ...indexes.flatMap((i) => ['-z', `follow,tcp,raw,${i}`])]));
}

/** Every TLS ClientHello in `file`, decoding as TLS the TCP ports given (TLS on non-standard ports). */
export function clientHellos(file: string, tlsPorts: readonly number[]): ClientHello[] {
  const decodeAs = tlsPorts.flatMap((port) => ['-d', `tcp.port==${port},tls`]);
  const fields = ['tcp.stream', 'ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str'];
  const out = tshark(['-r', file, ...decodeAs, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])]);
  const hellos: ClientHello[] = [];
  for (const line of out.split('\n')) {
    const [stream, srcIp, srcPort, dstIp, dstPort, sni, alpn] = line.split('\t');
    if (stream === undefined || stream === '' || srcIp === undefined || dstIp === undefined) continue;
    hellos.push({
      stream: Number(stream),
      client: { ip: srcIp, port: Number(srcPort) },
      server: { ip: dstIp, port: Number(dstPort) },
      sni: sni ?? '',
      alpn: alpn === undefined || alpn === '' ? [] : alpn.split(','),
    });
  }
  return hellos;
}
