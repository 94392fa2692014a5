// The contract between the lean HTTP/2 engine and whatever drives it (the proxy's stacks, tests): the
// ONE handler object a connection reports to, the options a connection takes, and the defaults with the
// reason for each. No code: importing this costs nothing.
import { DEFAULT_WINDOW } from './frames.ts';
import type { H2Stream } from './stream.ts';

export type H2Role = 'server' | 'client';

/** Events of one connection. Header lists are flat [name, value, ...]; payloads are subarrays of socket chunks. */
export interface H2Handler {
  /** Server role: a new, valid request head. `endStream`: no body follows. */
  onRequestHeaders(stream: H2Stream, headers: string[], endStream: boolean): void;
  /** Client role: a response head; informational ones (status < 200) may come first, several times. */
  onResponseHeaders(stream: H2Stream, headers: string[], status: number, endStream: boolean): void;
  /** A head larger than our SETTINGS_MAX_HEADER_LIST_SIZE (the stream stays open; a server answers 431). */
  onHeadersTooLarge(stream: H2Stream): void;
  /** Body bytes; the handler calls `consumed(stream, n)` once it is done with them. */
  onData(stream: H2Stream, data: Buffer, endStream: boolean): void;
  /** Trailers; they end the peer's side. */
  onTrailers(stream: H2Stream, trailers: string[]): void;
  /**
   * The stream is gone: RST_STREAM from the peer, a stream error we detected (we sent RST_STREAM), a stream
   * the peer refused unprocessed in GOAWAY (REFUSED_STREAM: safe to retry), or the connection closing.
   */
  onReset(stream: H2Stream, code: number): void;
  /** GOAWAY received; streams above `lastStreamId` were already reported as REFUSED_STREAM. */
  onGoaway(lastStreamId: number, code: number, debug: Buffer): void;
  /** `flushed` queued bytes of `stream` went out because the peer opened its window (or the socket drained). */
  onStreamWindow(stream: H2Stream, flushed: number): void;
  /** Client role: a stream may be opened again after `canOpenStream()` said no. */
  onStreamCapacity(): void;
  /** The answer to our `ping()`. */
  onPingAck(opaque: Buffer): void;
  /** Once, when the connection is over; null when it ended cleanly. Open streams got `onReset` first. */
  onClose(error: Error | null): void;
}

export interface H2Options {
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: per stream, what a peer may send before we refund. */
  readonly streamWindow?: number;
  /** Our connection receive window, opened with a WINDOW_UPDATE right after the preface. */
  readonly connectionWindow?: number;
  /** Server role: the SETTINGS_MAX_CONCURRENT_STREAMS we advertise and enforce. */
  readonly maxConcurrentStreams?: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE; larger heads go to `onHeadersTooLarge`. */
  readonly maxHeaderListSize?: number;
  /** DATA waits while the socket holds more than this many unsent bytes (a peer that reads slowly). */
  readonly writeHighWater?: number;
  /** Flood limits: [burst, per second] for each kind of frame counted. */
  readonly floods?: Partial<FloodLimits>;
  /** Bytes already read from the socket (e.g. by protocol detection): parsed first, right after the
   * constructor returns (the handler is never called from inside the constructor). */
  readonly head?: Buffer;
}

export interface FloodLimits {
  /** Server role: RST_STREAM received, and stream errors we answer (refused or malformed streams): rapid
   * reset (CVE-2023-44487) and MadeYouReset (CVE-2025-8671). nghttp2's figures. */
  resets: readonly [number, number];
  /** PING and SETTINGS, which each demand an ACK (CVE-2019-9512, -9515), beyond one per DATA frame we sent
   * (gRPC peers PING as they receive DATA, to estimate the bandwidth-delay product). */
  acks: readonly [number, number];
  /** DATA without bytes or END_STREAM, empty CONTINUATION (CVE-2019-9518). */
  empty: readonly [number, number];
  /** WINDOW_UPDATE beyond two per DATA frame we sent. */
  windowUpdates: readonly [number, number];
}

export const DEFAULTS = {
  /** The RFC's initial window: no SETTINGS change in flight, and 100 streams × 64 KiB bound memory. */
  streamWindow: DEFAULT_WINDOW,
  /** 1 MiB: room for 16 streams at full window at once; the real memory bound of a connection. */
  connectionWindow: 1 << 20,
  /** As nghttp2, Go and Node advertise: enough for browsers and gRPC, small enough to bound a client. */
  maxConcurrentStreams: 100,
  /** 64 KiB, as nghttp2: gRPC metadata fits, a header flood does not. */
  maxHeaderListSize: 64 << 10,
  /** 256 KiB of unsent bytes before DATA waits for 'drain'. */
  writeHighWater: 256 << 10,
  floods: {
    resets: [1000, 33],
    acks: [200, 50],
    empty: [100, 20],
    windowUpdates: [2000, 500],
  } as FloodLimits,
} as const;
