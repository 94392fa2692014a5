// What the mTLS end-to-end test asks of a packet capture, as pure functions over what tshark printed:
// the byte streams of every TCP connection (`tshark -z follow,tcp,raw,N`), whether a stream is made of
// TLS records from its first byte to its last, and whether a marker string appears in some bytes — in
// plain text or in the forms HTTP/2 would put it on the wire (HPACK Huffman coding, at any bit offset,
// because a proxy re-encoding headers may choose it). Kept apart from the capture itself so the parsing
// and searching can be tested without root (capture-analysis.test.ts).
import { HUFFMAN_CODE_BITS, HUFFMAN_CODES } from '../../src/workers/http2/hpack/huffman.ts';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

/** A TCP connection as tshark lists it packet by packet. */
export interface TcpStreamSummary {
  readonly index: number;
  /** Sender of the first SYN in the capture, if the connection was opened while capturing. */
  readonly opener: Endpoint | undefined;
  /** Payload octets of its packets, retransmissions included. */
  readonly payloadBytes: number;
}

/** A TLS ClientHello as tshark dissects it. */
export interface ClientHello {
  readonly stream: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly sni: string;
  readonly alpn: readonly string[];
}

/** One TCP connection as tshark reassembled it: node 0 is the sender of its first captured packet. */
export interface FollowedStream {
  readonly index: number;
  readonly node0: Endpoint;
  readonly node1: Endpoint;
  /** Payload node 0 sent, in order, and what node 1 sent. */
  readonly fromNode0: Buffer;
  readonly fromNode1: Buffer;
}

function endpoint(text: string, line: string): Endpoint {
  const m = /^(.*):(\d+)$/.exec(text.trim());
  if (m === null) throw new Error(`tshark follow: cannot read the endpoint in ${JSON.stringify(line)}`);
  return { ip: m[1] ?? '', port: Number(m[2]) };
}

/**
 * Parses the output of `tshark -q -z follow,tcp,raw,N [-z follow,tcp,raw,M …]`: one block per stream
 * between rules of `=`, holding `Follow: tcp,raw`, `Filter: tcp.stream eq N`, `Node 0: ip:port`,
 * `Node 1: ip:port`, then the payload as hex lines, those node 1 sent indented by a tab. Blocks come
 * in any order; the result is sorted by stream index.
 */
export function parseFollowRaw(text: string): FollowedStream[] {
  const streams: FollowedStream[] = [];
  for (const block of text.split(/^=+$/m)) {
    const filter = /^Filter: tcp\.stream eq (\d+)$/m.exec(block);
    if (filter === null) continue;
    const node0 = /^Node 0: (.*)$/m.exec(block);
    const node1 = /^Node 1: (.*)$/m.exec(block);
    if (node0 === null || node1 === null) throw new Error(`tshark follow: stream ${filter[1]} has no Node lines`);
    const sent: [Buffer[], Buffer[]] = [[], []];
    for (const line of block.split('\n')) {
      if (line.trim() === '' || /^(Follow|Filter|Node \d):/.test(line)) continue;
      const hex = line.trim();
      if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) throw new Error(`tshark follow: stream ${filter[1]}: not a hex line: ${JSON.stringify(line.slice(0, 80))}`);
      sent[line.startsWith('\t') ? 1 : 0].push(Buffer.from(hex, 'hex'));
    }
    streams.push({
      index: Number(filter[1]),
      node0: endpoint(node0[1] ?? '', node0[0]),
      node1: endpoint(node1[1] ?? '', node1[0]),
      fromNode0: Buffer.concat(sent[0]),
      fromNode1: Buffer.concat(sent[1]),
    });
  }
  return streams.sort((a, b) => a.index - b.index);
}

// ── TLS records ─────────────────────────────────────────────────────────────────────────────────

/** TLS record content types (RFC 8446 §5.1). */
export const RECORD_TYPE = { change_cipher_spec: 20, alert: 21, handshake: 22, application_data: 23 } as const;
/** TLSPlaintext/TLSCiphertext length limit: 2^14 plus the 256 octets of expansion TLS 1.3 allows. */
const MAX_RECORD_LENGTH = 2 ** 14 + 256;

export interface RecordWalk {
  /** Records by content type, e.g. `{ 22: 1, 20: 1, 23: 12 }`. */
  readonly counts: Readonly<Record<number, number>>;
  /** Octets of application_data records (ciphertext, headers included). */
  readonly applicationBytes: number;
  /** The first record's first handshake message type (1 ClientHello, 2 ServerHello), if a handshake record leads. */
  readonly firstHandshakeType: number | undefined;
  /** Why the bytes are not a sequence of TLS records from first to last octet; undefined when they are. */
  readonly problem: string | undefined;
}

/**
 * Walks `bytes` as consecutive TLS records: each a 5-octet header (a known content type, version
 * 0x0301–0x0303, a length within the limit) and that many octets, up to the very last octet. Any octet
 * that is not part of such a record (plaintext, a truncated record) is a problem, said with its offset.
 */
export function walkTlsRecords(bytes: Buffer): RecordWalk {
  const counts: Record<number, number> = {};
  let applicationBytes = 0;
  let firstHandshakeType: number | undefined;
  const result = (problem?: string): RecordWalk => ({ counts, applicationBytes, firstHandshakeType, problem });
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 5) return result(`${bytes.length - offset} trailing octets at offset ${offset}: not a whole record header`);
    const type = bytes[offset] ?? 0;
    const major = bytes[offset + 1];
    const minor = bytes[offset + 2] ?? 0;
    const length = bytes.readUInt16BE(offset + 3);
    const shown = bytes.subarray(offset, offset + 16).toString('hex');
    if (!Object.values(RECORD_TYPE).includes(type as 20)) return result(`octet ${offset} starts no TLS record (content type ${type}; ${shown}…)`);
    if (major !== 3 || minor < 1 || minor > 3) return result(`record at offset ${offset} has version ${major}.${minor} (${shown}…)`);
    if (length === 0 || length > MAX_RECORD_LENGTH) return result(`record at offset ${offset} has length ${length}`);
    if (offset + 5 + length > bytes.length) return result(`record at offset ${offset} is cut short: ${length} octets announced, ${bytes.length - offset - 5} present`);
    if (offset === 0 && type === RECORD_TYPE.handshake) firstHandshakeType = bytes[5];
    counts[type] = (counts[type] ?? 0) + 1;
    if (type === RECORD_TYPE.application_data) applicationBytes += 5 + length;
    offset += 5 + length;
  }
  return result();
}

// ── the hop between two pods ────────────────────────────────────────────────────────────────────

/** What every connection between two pods must be. */
export interface HopRules {
  /** The address that must open every connection (the client pod). */
  readonly client: string;
  /** The server pod's address. */
  readonly server: string;
  /** Ports of the server whose connections are not checked (e.g. a plaintext control-plane API). */
  readonly exempt: ReadonlySet<number>;
  /** Ports of the server whose connections must be TLS throughout, and the ClientHello they must open with. */
  readonly tls: ReadonlyMap<number, { readonly sni: string; readonly alpn: readonly string[] }>;
}

export interface HopVerdict {
  /** Everything that breaks the rules, one line each; empty when the hop is TLS only. */
  readonly problems: string[];
  /** Per server port, the connections that carried application data both ways inside TLS. */
  readonly carried: ReadonlyMap<number, number>;
  /** One line per checked connection, for the test's diagnostics. */
  readonly notes: string[];
}

const show = (e: Endpoint): string => `${e.ip}:${e.port}`;

/**
 * Checks each connection of a capture against `rules`: to a known port of the server; opened by the
 * client within the capture (so its first octet was seen); tshark's reassembly consistent with its
 * packet count; both directions TLS records from the first octet to the last; a ClientHello first,
 * with the SNI and ALPN the port requires.
 */
export function checkTlsOnly(
  streams: readonly TcpStreamSummary[],
  followed: readonly FollowedStream[],
  hellos: readonly ClientHello[],
  rules: HopRules,
): HopVerdict {
  const problems: string[] = [];
  const notes: string[] = [];
  const carried = new Map<number, number>();
  const byIndex = new Map(followed.map((f) => [f.index, f]));
  for (const s of streams) {
    if (s.payloadBytes === 0) continue;
    const f = byIndex.get(s.index);
    if (f === undefined) {
      problems.push(`stream ${s.index}: ${s.payloadBytes} octets captured but not reassembled`);
      continue;
    }
    // Retransmissions count in the packets' total, not in the reassembly.
    const reassembled = f.fromNode0.length + f.fromNode1.length;
    if (reassembled === 0 || reassembled > s.payloadBytes) problems.push(`stream ${s.index}: ${reassembled} octets reassembled of ${s.payloadBytes} captured`);
    const server = [f.node0, f.node1].find((e) => e.ip === rules.server && (rules.exempt.has(e.port) || rules.tls.has(e.port)));
    if (server === undefined) {
      problems.push(`stream ${s.index} ${show(f.node0)} ↔ ${show(f.node1)} is to no known port of ${rules.server}`);
      continue;
    }
    if (rules.exempt.has(server.port)) continue;
    const label = `stream ${s.index} to ${show(server)}`;
    const client = f.node0 === server ? f.node1 : f.node0;
    if (s.opener === undefined || s.opener.ip !== client.ip || s.opener.port !== client.port || client.ip !== rules.client) {
      problems.push(`${label}: not opened by ${rules.client} within the capture (opener ${s.opener === undefined ? 'unseen' : show(s.opener)})`);
      continue;
    }
    const before = problems.length;
    const up = walkTlsRecords(f.node0 === server ? f.fromNode1 : f.fromNode0);
    const down = walkTlsRecords(f.node0 === server ? f.fromNode0 : f.fromNode1);
    if (up.problem !== undefined) problems.push(`${label}: client to server not TLS throughout: ${up.problem}`);
    if (down.problem !== undefined) problems.push(`${label}: server to client not TLS throughout: ${down.problem}`);
    if (up.firstHandshakeType !== 1) problems.push(`${label}: does not open with a ClientHello`);
    const hello = hellos.find((h) => h.stream === s.index);
    const expected = rules.tls.get(server.port);
    if (hello === undefined) problems.push(`${label}: tshark found no ClientHello`);
    else if (expected !== undefined && (hello.sni !== expected.sni || hello.alpn.join(',') !== expected.alpn.join(','))) {
      problems.push(`${label}: ClientHello SNI ${hello.sni} ALPN ${hello.alpn.join(',')}; expected ${expected.sni} ${expected.alpn.join(',')}`);
    }
    if (problems.length === before && up.applicationBytes > 0 && down.applicationBytes > 0) carried.set(server.port, (carried.get(server.port) ?? 0) + 1);
    notes.push(`${label}: TLS records up ${JSON.stringify(up.counts)} down ${JSON.stringify(down.counts)}; SNI ${hello?.sni ?? '?'} ALPN ${hello?.alpn.join(',') ?? '?'}`);
  }
  return { problems, carried, notes };
}

// ── markers ─────────────────────────────────────────────────────────────────────────────────────

/** The bits of `text` HPACK-Huffman-coded (RFC 7541 Appendix B), most significant first, no padding. */
function huffmanBits(text: string): number[] {
  const bits: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i) & 0xff;
    const code = HUFFMAN_CODES[symbol] ?? 0;
    const length = HUFFMAN_CODE_BITS[symbol] ?? 0;
    for (let b = length - 1; b >= 0; b--) bits.push(Math.floor(code / 2 ** b) % 2);
  }
  return bits;
}

/**
 * The octet strings that must appear wherever `text` was sent Huffman-coded inside a longer string:
 * one per bit offset 0–7 at which it may start, each holding only the octets whose eight bits all
 * belong to `text` (the first and last octets mix in neighbouring symbols or padding, so they are left out).
 */
export function huffmanForms(text: string): Buffer[] {
  const bits = huffmanBits(text);
  const forms: Buffer[] = [];
  for (let shift = 0; shift < 8; shift++) {
    const octets: number[] = [];
    // Octet j of the wire holds the text's bits [8j - shift, 8j - shift + 8).
    for (let j = shift === 0 ? 0 : 1; 8 * j - shift + 8 <= bits.length; j++) {
      let octet = 0;
      for (let k = 0; k < 8; k++) octet = octet * 2 + (bits[8 * j - shift + k] ?? 0);
      octets.push(octet);
    }
    forms.push(Buffer.from(octets));
  }
  return forms;
}

/** Every octet string whose presence means `marker` crossed the wire readable: itself, and its Huffman forms. */
export function markerForms(marker: string): Buffer[] {
  return [Buffer.from(marker, 'latin1'), ...huffmanForms(marker)];
}

export interface MarkerHit {
  readonly marker: string;
  /** Where: a label of the haystack (`capture file`, `stream 3 from 10.0.0.1:4000`). */
  readonly where: string;
  readonly offset: number;
  readonly form: 'plain' | 'huffman';
}

/**
 * Where any of `markers` appears in `haystacks`, in any of its forms. A Huffman form shorter than 8
 * octets is skipped: so short a string could appear in ciphertext by chance (markers are long enough
 * that theirs are not).
 */
export function findMarkers(markers: readonly string[], haystacks: ReadonlyArray<{ where: string; bytes: Buffer }>): MarkerHit[] {
  const hits: MarkerHit[] = [];
  for (const marker of markers) {
    const forms = markerForms(marker);
    for (const { where, bytes } of haystacks) {
      forms.forEach((form, i) => {
        if (i > 0 && form.length < 8) return;
        const offset = bytes.indexOf(form);
        if (offset >= 0) hits.push({ marker, where, offset, form: i === 0 ? 'plain' : 'huffman' });
      });
    }
  }
  return hits;
}
