// Test helpers shared by detect.test.ts and detect.property.test.ts: byte builders for TLS
// ClientHellos (well-formed and deliberately broken) and a recorder of what real clients send.
import net from 'node:net';

export const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

export function u16(n: number): Buffer {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}

/** `bytes` preceded by its length in `width` bytes (TLS vector encoding). */
export function vec(width: 1 | 2 | 3, bytes: Uint8Array): Buffer {
  const len = Buffer.alloc(width);
  len.writeUIntBE(bytes.length, 0, width);
  return Buffer.concat([len, bytes]);
}

export function extension(type: number, data: Uint8Array): Buffer {
  return Buffer.concat([u16(type), vec(2, data)]);
}

/** server_name extension with one host_name entry (raw bytes allowed, to build bad names). */
export function sniExtension(host: string | Uint8Array): Buffer {
  const name = typeof host === 'string' ? ascii(host) : host;
  return extension(0, vec(2, Buffer.concat([Buffer.from([0]), vec(2, name)])));
}

export function alpnExtension(protocols: readonly string[]): Buffer {
  return extension(16, vec(2, Buffer.concat(protocols.map((p) => vec(1, ascii(p))))));
}

export interface HelloSpec {
  sni?: string | Uint8Array;
  alpn?: readonly string[];
  sessionId?: Uint8Array;
  /** Extensions placed before server_name / ALPN (e.g. GREASE, supported_versions, padding). */
  extraExtensions?: readonly Buffer[];
  /** Omit the extensions block entirely (legal before TLS 1.3). */
  noExtensions?: boolean;
}

/** ClientHello body: legacy_version .. extensions. */
export function clientHelloBody(spec: HelloSpec = {}): Buffer {
  const parts: Buffer[] = [
    Buffer.from([3, 3]), // legacy_version TLS 1.2
    Buffer.alloc(32, 0xab), // random
    vec(1, spec.sessionId ?? Buffer.alloc(32, 0xcd)),
    vec(2, Buffer.from([0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f])), // cipher_suites
    vec(1, Buffer.from([0])), // compression: null
  ];
  if (spec.noExtensions !== true) {
    const exts: Buffer[] = [...(spec.extraExtensions ?? [])];
    if (spec.sni !== undefined) exts.push(sniExtension(spec.sni));
    if (spec.alpn !== undefined) exts.push(alpnExtension(spec.alpn));
    exts.push(extension(43, vec(1, Buffer.from([3, 4, 3, 3])))); // supported_versions
    parts.push(vec(2, Buffer.concat(exts)));
  }
  return Buffer.concat(parts);
}

export function handshake(type: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([type]), vec(3, body)]);
}

export function record(fragment: Uint8Array, recordMinor = 1, contentType = 22): Buffer {
  return Buffer.concat([Buffer.from([contentType, 3, recordMinor]), vec(2, fragment)]);
}

/** A complete single-record ClientHello. */
export function clientHello(spec: HelloSpec = {}): Buffer {
  return record(handshake(1, clientHelloBody(spec)));
}

/** The handshake message split over two records, the first carrying `firstLen` bytes of it. */
export function clientHelloInTwoRecords(spec: HelloSpec, firstLen: number): Buffer {
  const msg = handshake(1, clientHelloBody(spec));
  return Buffer.concat([record(msg.subarray(0, firstLen)), record(msg.subarray(firstLen))]);
}

/** Whether `buf` holds a complete first TLS record. */
export function hasWholeRecord(buf: Buffer): boolean {
  return buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3);
}

/**
 * Accepts one connection on an ephemeral local port, lets `connect(port)` open it, and returns
 * the bytes the client sent once `done(bytes)` says enough arrived.
 */
export async function captureClientBytes(
  connect: (port: number) => { destroy(): unknown; on(event: 'error', fn: () => void): unknown },
  done: (bytes: Buffer) => boolean,
): Promise<Buffer> {
  const server = net.createServer();
  const captured = new Promise<Buffer>((resolve, reject) => {
    server.once('connection', (socket) => {
      let bytes = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (done(bytes)) {
          socket.destroy();
          resolve(bytes);
        }
      });
      socket.on('close', () => reject(new Error(`client closed after ${bytes.length} bytes`)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const client = connect(address.port);
  client.on('error', () => {}); // the capture side hangs up mid-handshake
  try {
    return await captured;
  } finally {
    client.destroy();
    server.close();
  }
}
