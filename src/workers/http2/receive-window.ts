// The receiving side of the lean HTTP/2 engine's flow control: what the peer may still send us. DATA
// stays charged to the stream and connection windows until the handler says it is done with the bytes
// (`consumed`); a proxy says so only once they left through the other side, which bounds its memory by
// the windows. Our advertised stream window counts only once the peer acknowledged our SETTINGS.
import type { H2Connection } from './connection.ts';
import { encodeWindowUpdate } from './frames.ts';
import type { H2Stream } from './stream.ts';

/**
 * The handler is done with `n` bytes of `stream`'s DATA: they return to the connection window, and to the
 * stream's while the peer may still send on it. Refunds are batched: a WINDOW_UPDATE once half a window
 * is owed, so a busy stream costs one small frame per half window, not one per DATA frame.
 */
export function refund(conn: H2Connection, stream: H2Stream, n: number): void {
  if (n > stream.unconsumed) n = stream.unconsumed;
  if (n <= 0 || conn.closed) return;
  stream.unconsumed -= n;
  refundConnection(conn, n);
  if (!stream.closed && !stream.remoteEnded) {
    stream.refundPending += n;
    if (stream.refundPending >= conn.localStreamWindow >>> 1) {
      stream.recvWindow += stream.refundPending;
      conn.write(encodeWindowUpdate(stream.id, stream.refundPending));
      stream.refundPending = 0;
    }
  }
}

/** Bytes that return to the connection window (consumed, padding, or dropped with a stream). */
export function refundConnection(conn: H2Connection, n: number): void {
  conn.connRefundPending += n;
  if (conn.connRefundPending >= conn.connectionWindow >>> 1 && !conn.closed) {
    conn.connRecvWindow += conn.connRefundPending;
    conn.write(encodeWindowUpdate(0, conn.connRefundPending));
    conn.connRefundPending = 0;
  }
}

/** Our SETTINGS were acknowledged: the stream window we advertised applies from now on (§6.9.2). */
export function applyLocalSettings(conn: H2Connection): void {
  if (conn.settingsAcked) return;
  conn.settingsAcked = true;
  const delta = conn.localStreamWindow - conn.effectiveStreamWindow;
  conn.effectiveStreamWindow = conn.localStreamWindow;
  if (delta !== 0) for (const stream of conn.streams.values()) stream.recvWindow += delta;
}
