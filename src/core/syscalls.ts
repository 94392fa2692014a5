// The few system calls Node does not expose, through koffi (a prebuilt FFI: no compiler needed).
// Loaded lazily so that code paths that never need them (tests of pure modules) do not pay for it.
import koffi from 'koffi';
import type net from 'node:net';
import type { HostPort } from '../config/parse.ts';

const SOL_IP = 0;
const SOL_IPV6 = 41;
/** SO_ORIGINAL_DST and IP6T_SO_ORIGINAL_DST share the number 80 (linux/netfilter_ipv4.h, _ipv6.h). */
const SO_ORIGINAL_DST = 80;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;

interface Libc {
  getsockopt: (fd: number, level: number, name: number, value: Buffer, length: number[]) => number;
  dup: (fd: number) => number;
  close: (fd: number) => number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc !== undefined) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    getsockopt: lib.func('int getsockopt(int, int, int, _Out_ uint8_t *value, _Inout_ uint32_t *length)'),
    dup: lib.func('int dup(int)'),
    close: lib.func('int close(int)'),
  };
  return libc;
}

/** glibc's malloc_trim, bound on first use; null where the C library has none (musl). */
let trimFn: ((pad: number) => number) | null | undefined;

/**
 * Gives the C library's free heap memory back to the system (glibc `malloc_trim(0)`, every arena: all
 * threads'). False where there is no such call. Takes the arenas' locks: a thread allocating meanwhile
 * waits, for up to ~15 ms after a burst of traffic, so call it only when the proxy is idle.
 */
export function mallocTrim(): boolean {
  if (trimFn === undefined) {
    try {
      trimFn = koffi.load('libc.so.6').func('int malloc_trim(size_t)') as (pad: number) => number;
    } catch {
      trimFn = null;
    }
  }
  if (trimFn === null) return false;
  trimFn(0);
  return true;
}

/** The file descriptor behind a net.Socket; undefined when it has none (already closed). */
export function socketFd(socket: net.Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

export function dupFd(fd: number): number {
  const copy = load().dup(fd);
  if (copy < 0) throw new Error(`dup(${fd}) failed: errno ${koffi.errno()}`);
  return copy;
}

export function closeFd(fd: number): void {
  load().close(fd);
}

/**
 * Decodes a sockaddr_in / sockaddr_in6 as returned by SO_ORIGINAL_DST (family in host byte order, port
 * and address in network order). Addresses are written as Node writes `socket.remoteAddress`, so the two
 * compare equal. Undefined when `length` (capped at the buffer's size) is short or the family unknown. Pure.
 */
export function decodeSockaddr(buf: Buffer, length: number): HostPort | undefined {
  const size = Math.min(length, buf.length);
  if (!(size >= 8)) return undefined;
  const family = buf.readUInt16LE(0);
  const port = buf.readUInt16BE(2);
  if (family === AF_INET && size >= SOCKADDR_IN_SIZE) {
    return { host: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port };
  }
  if (family === AF_INET6 && size >= SOCKADDR_IN6_SIZE) {
    const words: number[] = [];
    for (let i = 8; i < 24; i += 2) words.push(buf.readUInt16BE(i));
    return { host: formatIPv6(words), port };
  }
  return undefined;
}

/**
 * RFC 5952 text form (lowercase hex, the first longest run of two or more zero words becomes `::`), with
 * the last 32 bits dotted for IPv4-mapped (`::ffff:10.0.0.1`) and IPv4-compatible (`::10.0.0.1`)
 * addresses, exactly as libuv's inet_ntop (and so Node) prints them.
 */
function formatIPv6(words: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < words.length; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < words.length && words[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const w6 = words[6] as number;
  const w7 = words[7] as number;
  if (bestStart === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff))) {
    const v4 = `${w6 >> 8}.${w6 & 0xff}.${w7 >> 8}.${w7 & 0xff}`;
    return bestLength === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

const scratch = Buffer.alloc(SOCKADDR_IN6_SIZE);

/**
 * The destination a connection had before iptables redirected it to us, or undefined when it was not
 * redirected (ENOENT). IPv4 peers on a dual-stack listener appear as `::ffff:a.b.c.d` and must be asked
 * with SOL_IP; SOL_IPV6 answers ENOENT for them.
 */
export function originalDst(socket: net.Socket): HostPort | undefined {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  const local = socket.localAddress ?? '';
  const v6 = socket.localFamily === 'IPv6' && !local.startsWith('::ffff:');
  const length = [v6 ? SOCKADDR_IN6_SIZE : SOCKADDR_IN_SIZE];
  const rc = load().getsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, SO_ORIGINAL_DST, scratch, length);
  if (rc !== 0) return undefined;
  return decodeSockaddr(scratch, length[0] as number);
}
