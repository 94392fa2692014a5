// Micro-benchmark of the HPACK codec against the npm hpack.js on gRPC header blocks: ns per decode and
// per encode, first block (literals into the table) and later blocks (indexed; the gRPC request's
// deadline changes on every call, as real clients send it). Not a test:
// run it by hand, `npx node src/workers/http2/hpack/bench.ts`. Reports the best of several rounds
// in process CPU time (GC included), the figure least disturbed by other processes.
import { Buffer } from 'node:buffer';
import { HpackDecoder } from './decoder.ts';
import { HpackEncoder } from './encoder.ts';
import { OracleDecoder, OracleEncoder } from './hpack-js-oracle.ts';

const request = [
  ':method', 'POST',
  ':scheme', 'http',
  ':path', '/pkg.Service/Method',
  ':authority', 'greeter.default.svc.cluster.local:8080',
  'content-type', 'application/grpc',
  'te', 'trailers',
  'grpc-timeout', '999m',
  'user-agent', 'grpc-node-js/1.14.7',
];
const response = [':status', '200', 'content-type', 'application/grpc', 'grpc-accept-encoding', 'identity,deflate,gzip', 'grpc-encoding', 'identity'];
const trailers = ['grpc-status', '0', 'grpc-message', ''];

let sink = 0;

/**
 * Best CPU ns per call over `rounds` rounds of `iterations` calls. CPU time rather than wall time:
 * on a shared machine the process is often descheduled, which wall time would count.
 */
function measure(iterations: number, run: () => number, rounds = 7): number {
  for (let i = 0; i < iterations; i++) sink += run(); // warm-up: let the JIT settle
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < iterations; i++) sink += run();
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / iterations);
  }
  return best;
}

interface Row {
  case: string;
  'sluice ns': number;
  'hpack.js ns': number;
  ratio: string;
}
const rows: Row[] = [];
function row(name: string, ours: number, theirs: number): void {
  rows.push({ case: name, 'sluice ns': Math.round(ours), 'hpack.js ns': Math.round(theirs), ratio: `${(theirs / ours).toFixed(1)}x` });
}

/** Real gRPC clients send the deadline's remainder: a new grpc-timeout on every call. */
const requests = Array.from({ length: 1000 }, (_, i) => request.map((text, j) => (j === 13 ? `${999 - (i % 900)}m` : text)));

for (const [label, variants] of [
  ['request', requests],
  ['response', [response]],
  ['trailers', [trailers]],
] as const) {
  const fields = variants[0]!;
  const encoder = new HpackEncoder();
  const first = encoder.encode(fields);
  // Later blocks of the connection; with this encoder's policy they leave the table unchanged, so
  // a decoder can take them in any order.
  const later = variants.map((list) => encoder.encode(list));
  let n = 0;
  const next = <T>(list: readonly T[]): T => list[n++ % list.length]!;

  // Decoding the first block again and again keeps inserting its literals (and evicting): the
  // cost of a block of new fields. Later blocks are indexed references (and the deadline).
  const decoder = new HpackDecoder();
  const oracleDecoder = new OracleDecoder(4096);
  row(`decode ${label}, first (${first.length} B)`, measure(20_000, () => decoder.decode(first).length), measure(2_000, () => oracleDecoder.decode(first).fields.length));
  const warmDecoder = new HpackDecoder();
  warmDecoder.decode(first);
  const warmOracle = new OracleDecoder(4096);
  warmOracle.decode(first);
  row(
    `decode ${label}, later (${later[later.length - 1]!.length} B)`,
    measure(50_000, () => warmDecoder.decode(next(later)).length),
    measure(5_000, () => warmOracle.decode(next(later)).fields.length),
  );

  // A first block from a new encoder (construction included, for both).
  row(`encode ${label}, first`, measure(20_000, () => new HpackEncoder().encode(fields).length), measure(2_000, () => new OracleEncoder(4096).encode(fields).length));
  const warmEncoder = new HpackEncoder();
  warmEncoder.encode(fields);
  const warmOracleEncoder = new OracleEncoder(4096);
  warmOracleEncoder.encode(fields);
  row(`encode ${label}, later`, measure(50_000, () => warmEncoder.encode(next(variants)).length), measure(5_000, () => warmOracleEncoder.encode(next(variants)).length));
}

console.table(rows);
console.log(`node ${process.version}, ${Buffer.byteLength(String(sink))} (sink)`);
