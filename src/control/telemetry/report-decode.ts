// Decodes a `Telemetry.Report` request (proto/telemetry.proto) from its wire bytes into the same
// object the project's proto loader gives (src/api/proto.ts options: snake_case, 64-bit as numbers,
// enums as names, oneof virtual field, fields at their default left out), written by hand because it
// is the controller's hottest path: protobufjs decodes into message instances and then copies them
// into plain objects (~670 µs for a busy proxy's report here; this is several times cheaper).
// report-decode.test.ts checks it against protobufjs on generated reports. Unknown fields are skipped
// as the protobuf rules say; malformed bytes throw.
//
// Given caches (ReportDecodeCaches, decode-cache.ts), the parts of a report that describe a series
// rather than count it (process, request and end-of-stream contexts, label entries, transport labels)
// are decoded once per distinct bytes and shared, frozen, between reports: the result is equal to an
// uncached decode, field for field, but its contexts may be the same objects as an earlier report's.
import type { DecodeCache } from './decode-cache.ts';
import { Reader, type ReportDecodeCaches } from './report-reader.ts';
import type {
  EosCtx,
  EosScope,
  IPAddress,
  ProcessInfo,
  ReportRequest,
  RequestCtx,
  RequestScope,
  ResponseScope,
  TcpAddress,
  TransportReport,
} from '../../api/telemetry-messages.ts';

export { ReportDecodeCaches } from './report-reader.ts';

const PROXY_NAMES = ['INBOUND', 'OUTBOUND'] as const;
const PROTOCOL_NAMES = ['HTTP', 'TCP'] as const;

function enumName<T extends string>(names: readonly T[], value: number): T {
  // Unknown numbers stay numbers, as protobufjs leaves them.
  return (names[value] ?? value) as T;
}

/** The report in `bytes`; with `caches`, its contexts and labels shared with earlier reports' (see the header). */
export function decodeReportRequest(bytes: Uint8Array, caches?: ReportDecodeCaches): ReportRequest {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return report(new Reader(buf, 0, buf.length, caches), false);
}

const PROCESS = (c: ReportDecodeCaches): DecodeCache<ProcessInfo> => c.process;
const REQUEST_CTX = (c: ReportDecodeCaches): DecodeCache<RequestCtx> => c.requestCtx;
const RESPONSE_CTX = (c: ReportDecodeCaches): DecodeCache<{ http_status_code?: number }> => c.responseCtx;
const EOS_CTX = (c: ReportDecodeCaches): DecodeCache<EosCtx> => c.eosCtx;
const LABEL_ENTRY = (c: ReportDecodeCaches): DecodeCache<readonly [string, string]> => c.labelEntry;
const BOUNDS = (c: ReportDecodeCaches): DecodeCache<number[]> => c.bounds;

/** A ReportRequest; `batched`: one inside another's field 14, which may not nest further. */
function report(r: Reader, batched: boolean): ReportRequest {
  const out: ReportRequest = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    switch (field) {
      case 1:
        out.process = r.cached(PROCESS, processInfo);
        break;
      case 2:
        out.proxy = enumName(PROXY_NAMES, r.varint());
        break;
      case 3:
        (out.server_transports ??= []).push(transport(r.sub(), true));
        break;
      case 4:
        (out.client_transports ??= []).push(transport(r.sub(), false));
        break;
      case 5:
        (out.requests ??= []).push(requestScope(r.sub()));
        break;
      case 6:
        // The same bounds in every report: shared, as contexts are, when packed (as every encoder packs them).
        if (wire === 2 && r.caches !== undefined && out.histogram_bucket_bounds_tenth_ms === undefined) out.histogram_bucket_bounds_tenth_ms = r.cached(BOUNDS, uint32List);
        else r.uint32s(wire, (out.histogram_bucket_bounds_tenth_ms ??= []));
        break;
      case 10:
        out.instance_id = r.sharedString();
        break;
      case 11:
        out.sequence = r.varint();
        break;
      case 12:
        out.interval_ms = r.varint();
        break;
      case 13:
        out.report_interval_ms = r.varint();
        break;
      case 14:
        if (batched) throw new Error('a batched report carries batched reports of its own');
        (out.batched ??= []).push(report(r.sub(), true));
        break;
      default:
        r.skip(wire);
    }
  }
  if (r.pos !== r.end) throw new Error('field past the end of the report');
  return out;
}

function processInfo(r: Reader): ProcessInfo {
  const out: ProcessInfo = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    switch (tag >>> 3) {
      case 1:
        out.node = r.string();
        break;
      case 2:
        out.scheduled_instance = r.string();
        break;
      case 3:
        out.scheduled_namespace = r.string();
        break;
      case 10:
        out.workload = r.string();
        break;
      case 11:
        out.identity = r.string();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}

function transport(r: Reader, server: boolean): TransportReport {
  const out: TransportReport = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    // ServerTransport: source_ip = 1, target_addr = 10; ClientTransport: target_addr = 1.
    if (field === 1) {
      if (server) out.source_ip = ipAddress(r.sub());
      else out.target_addr = tcpAddress(r.sub());
    } else if (field === 10 && server) {
      out.target_addr = tcpAddress(r.sub());
    } else if (field === 2) out.connects = r.uint32();
    else if (field === 3) {
      const s = r.sub();
      const summary: { duration_ms?: number; bytes_sent?: number } = {};
      while (s.pos < s.end) {
        const t = s.varint();
        if (t >>> 3 === 1) summary.duration_ms = s.varint();
        else if (t >>> 3 === 2) summary.bytes_sent = s.varint();
        else s.skip(t & 7);
      }
      (out.disconnects ??= []).push(summary);
    } else if (field === 4) out.protocol = enumName(PROTOCOL_NAMES, r.varint());
    else if (field === 11) out.open_connections = r.varint();
    else if (field === 12) out.read_bytes = r.varint();
    else if (field === 13) out.write_bytes = r.varint();
    else if (field === 14) out.disconnect_count = r.uint32();
    else if (field === 15) addEntry(r.cached(LABEL_ENTRY, mapEntry), (out.dst_labels ??= {}));
    else if (field === 16) out.tls = r.sharedString();
    else if (field === 17) out.client_id = r.sharedString();
    else if (field === 18) out.server_id = r.sharedString();
    else if (field === 19) out.no_tls_reason = r.sharedString();
    else r.skip(tag & 7);
  }
  return out;
}

function requestScope(r: Reader): RequestScope {
  const out: RequestScope = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    switch (tag >>> 3) {
      case 1:
        out.ctx = r.cached(REQUEST_CTX, requestCtx);
        break;
      case 2:
        out.count = r.uint32();
        break;
      case 3:
        (out.responses ??= []).push(responseScope(r.sub()));
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}

function requestCtx(r: Reader): RequestCtx {
  const out: RequestCtx = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    switch (tag >>> 3) {
      case 1:
        out.source_ip = ipAddress(r.sub());
        break;
      case 2:
        out.target_addr = tcpAddress(r.sub());
        break;
      case 3:
        out.authority = r.string();
        break;
      case 10:
        addEntry(mapEntry(r.sub()), (out.dst_labels ??= {}));
        break;
      case 11:
        out.route_scope = r.varint() !== 0;
        break;
      case 12:
        addEntry(mapEntry(r.sub()), (out.route_labels ??= {}));
        break;
      case 13:
        out.tls = r.string();
        break;
      case 14:
        out.actual = r.varint() !== 0;
        break;
      case 15:
        out.client_id = r.string();
        break;
      case 16:
        out.server_id = r.string();
        break;
      case 17:
        out.no_tls_reason = r.string();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}

function responseScope(r: Reader): ResponseScope {
  const out: ResponseScope = {};
  // The controller's decode (with caches) reads packed bucket counts only when there is no exact
  // histogram: the store then uses the histogram alone, and the counts were a fifth of what decoding allocated.
  let countsStart = -1;
  let countsEnd = -1;
  while (r.pos < r.end) {
    const tag = r.varint();
    switch (tag >>> 3) {
      case 1:
        out.ctx = r.cached(RESPONSE_CTX, responseCtx);
        break;
      case 2:
        if ((tag & 7) === 2 && r.caches !== undefined && countsStart < 0) {
          countsStart = r.span();
          countsEnd = r.pos;
        } else r.uint32s(tag & 7, (out.response_latency_counts ??= []));
        break;
      case 3:
        (out.ends ??= []).push(eosScope(r.sub()));
        break;
      case 10: {
        // A view into the request's bytes (protobufjs gives one too): no copy.
        const start = r.span();
        out.latency_hdr = r.buf.subarray(start, r.pos);
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  if (countsStart >= 0 && (out.latency_hdr === undefined || out.latency_hdr.length === 0)) {
    const counts = uint32List(new Reader(r.buf, countsStart, countsEnd, undefined));
    // Any unpacked counts that came after the packed run follow it, as they did on the wire.
    out.response_latency_counts = out.response_latency_counts === undefined ? counts : [...counts, ...out.response_latency_counts];
  }
  return out;
}

/** The body of a packed repeated uint32 field. */
function uint32List(r: Reader): number[] {
  const out: number[] = [];
  while (r.pos < r.end) out.push(r.uint32());
  return out;
}

function responseCtx(s: Reader): { http_status_code?: number } {
  const ctx: { http_status_code?: number } = {};
  while (s.pos < s.end) {
    const t = s.varint();
    if (t >>> 3 === 1) ctx.http_status_code = s.uint32();
    else s.skip(t & 7);
  }
  return ctx;
}

function eosScope(r: Reader): EosScope {
  const out: EosScope = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag >>> 3 === 1) out.ctx = r.cached(EOS_CTX, eosCtx);
    else if (tag >>> 3 === 2) out.streams = r.uint32();
    else r.skip(tag & 7);
  }
  return out;
}

function eosCtx(r: Reader): EosCtx {
  const out: EosCtx = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    switch (tag >>> 3) {
      // The oneof: the last member on the wire wins, and names the virtual field.
      case 1:
        delete out.reset_error_code;
        delete out.other;
        out.grpc_status_code = r.uint32();
        out.end = 'grpc_status_code';
        break;
      case 2:
        delete out.grpc_status_code;
        delete out.other;
        out.reset_error_code = r.uint32();
        out.end = 'reset_error_code';
        break;
      case 3:
        delete out.grpc_status_code;
        delete out.reset_error_code;
        out.other = r.varint() !== 0;
        out.end = 'other';
        break;
      case 10:
        out.classification = r.string();
        break;
      case 11:
        out.error = r.string();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}

function mapEntry(r: Reader): readonly [string, string] {
  let key = '';
  let value = '';
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag >>> 3 === 1) key = r.string();
    else if (tag >>> 3 === 2) value = r.string();
    else r.skip(tag & 7);
  }
  return [key, value];
}

function addEntry(entry: readonly [string, string], into: Record<string, string>): void {
  into[entry[0]] = entry[1];
}

function ipAddress(r: Reader): IPAddress {
  const out: IPAddress = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag >>> 3 === 1) {
      delete out.ipv6;
      out.ipv4 = r.fixed32();
      out.ip = 'ipv4';
    } else if (tag >>> 3 === 2) {
      const s = r.sub();
      const ipv6: { first?: number; last?: number } = {};
      while (s.pos < s.end) {
        const t = s.varint();
        if (t >>> 3 === 1) ipv6.first = s.fixed64();
        else if (t >>> 3 === 2) ipv6.last = s.fixed64();
        else s.skip(t & 7);
      }
      delete out.ipv4;
      out.ipv6 = ipv6;
      out.ip = 'ipv6';
    } else r.skip(tag & 7);
  }
  return out;
}

function tcpAddress(r: Reader): TcpAddress {
  const out: TcpAddress = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag >>> 3 === 1) out.ip = ipAddress(r.sub());
    else if (tag >>> 3 === 2) out.port = r.uint32();
    else r.skip(tag & 7);
  }
  return out;
}
