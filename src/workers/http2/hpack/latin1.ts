// Octets ↔ latin1 strings, the form HTTP field names and values take in Sluice (one char per octet,
// no UTF-8 decoding: field bytes pass through unchanged). Short strings are built in JavaScript,
// which beats a native call for the handful of octets most header fields have.
import type { Buffer } from 'node:buffer';

/** Node's Buffer has these fast paths (used by `toString('latin1')`), not in its typings. */
interface Latin1Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(text: string, offset: number, length: number): number;
}

/** Longest string converted in JavaScript rather than by Buffer's native code. */
const SHORT = 8;

export function latin1String(bytes: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length > SHORT) return (bytes as unknown as Latin1Buffer).latin1Slice(start, end);
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

/** Writes `text` as latin1 at `offset` (chars above 0xff keep their low octet); returns the end offset. */
export function writeLatin1(text: string, bytes: Buffer, offset: number): number {
  const length = text.length;
  if (length > SHORT) return offset + (bytes as unknown as Latin1Buffer).latin1Write(text, offset, length);
  for (let i = 0; i < length; i++) bytes[offset + i] = text.charCodeAt(i);
  return offset + length;
}
