// The per-stream record of the lean HTTP/2 engine: one small class with fixed fields (one hidden class
// for every stream, no EventEmitter, no closures). Streams live in their connection's table from their
// first HEADERS until both sides have ended or one has reset; the proxy keeps its own per-stream context
// in `ctx`. A closed record may still be passed to `consumed()` (its bytes still leave the connection
// window) and is otherwise inert.

/** Where a stream's incoming header blocks are (RFC 9113 §8.1: informational*, final, trailers?). */
export const Phase = {
  /** No final head yet (a request's stream before its HEADERS is never in the table; a response may
   * first see any number of 1xx heads). */
  AWAITING_HEAD: 0,
  /** Final head seen; DATA and then trailers may follow. */
  BODY: 1,
} as const;

export class H2Stream {
  readonly id: number;
  /** The proxy's own context for this stream (the peer stream, timings...). */
  ctx: unknown = undefined;
  /** We sent END_STREAM (or will, once `queue` drains): half-closed (local). */
  localEnded = false;
  /** The peer sent END_STREAM: half-closed (remote). */
  remoteEnded = false;
  /** Left the table (both ended, or reset either way). */
  closed = false;
  phase: number = Phase.AWAITING_HEAD;
  /** What we may still send on this stream (the peer's window for it); may go negative (§6.9.2). */
  sendWindow: number;
  /** What the peer may still send us before we refund. */
  recvWindow: number;
  /** Bytes delivered to the handler and not yet passed to `consumed()`. */
  unconsumed = 0;
  /** Consumed bytes not yet refunded with a stream WINDOW_UPDATE (refunds are batched). */
  refundPending = 0;
  /** DATA waiting for window, in order; written without copying. */
  queue: Buffer[] = [];
  queuedBytes = 0;
  /** END_STREAM goes with the last queued byte. */
  endAfterQueue = false;
  /** Trailers to send once the queue drains (they end the stream). */
  trailersAfterQueue: readonly string[] | null = null;
  trailersNeverIndexed: readonly number[] | undefined = undefined;
  /** The peer's content-length for this message, or -1; checked against the DATA received (§8.1.1). */
  expectedLength = -1;
  receivedLength = 0;
  /** Client role: the request was HEAD, so the response has no body whatever content-length says. */
  isHeadRequest = false;
  /** A header list too large for SETTINGS_MAX_HEADER_LIST_SIZE arrived; the handler answers (431). */
  headersTooLarge = false;

  constructor(id: number, sendWindow: number, recvWindow: number) {
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }
}
