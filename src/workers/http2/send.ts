// The sending side of the lean HTTP/2 engine's flow control: DATA goes out in frames of the peer's
// SETTINGS_MAX_FRAME_SIZE as far as the stream window, the connection window and the socket's buffer
// admit (a 9-byte header, then the caller's bytes, never copied); the rest waits in the stream's queue
// and leaves as WINDOW_UPDATEs (or the socket's 'drain') open room, reported through onStreamWindow.
import type { H2Connection } from './connection.ts';
import { encodeDataHeader } from './frames.ts';
import type { H2Stream } from './stream.ts';

/** The peer's window grew: queued DATA goes out, streams first come first served. */
export function flushAll(conn: H2Connection): void {
  for (const stream of conn.waiting) {
    if (conn.connSendWindow <= 0 || conn.bufferedBytes >= conn.writeHighWater) return;
    flushStream(conn, stream);
  }
}

/** Sends what the windows now admit of one stream's queue, then its trailers if the queue emptied. */
export function flushStream(conn: H2Connection, stream: H2Stream): void {
  let flushed = 0;
  while (stream.queue.length > 0) {
    const chunk = stream.queue[0]!;
    const last = stream.queue.length === 1;
    const n = writeData(conn, stream, chunk, last && stream.endAfterQueue);
    flushed += n;
    // The last bytes ended the stream: it left the table, and retire() emptied the queue.
    if (stream.closed) break;
    stream.queuedBytes -= n;
    if (n < chunk.length) {
      stream.queue[0] = chunk.subarray(n);
      break;
    }
    stream.queue.shift();
  }
  if (flushed === 0) return;
  if (!stream.closed && stream.queuedBytes === 0) {
    conn.waiting.delete(stream);
    stream.endAfterQueue = false;
    const trailers = stream.trailersAfterQueue;
    if (trailers !== null) {
      stream.trailersAfterQueue = null;
      conn.writeHead(stream, trailers, true, stream.trailersNeverIndexed);
    }
  }
  conn.handler.onStreamWindow(stream, flushed);
}

/** DATA that must wait: queued by reference, in order; `endStream` goes with its last byte. */
export function enqueue(conn: H2Connection, stream: H2Stream, data: Buffer, endStream: boolean): void {
  if (data.length > 0) {
    stream.queue.push(data);
    stream.queuedBytes += data.length;
  }
  stream.endAfterQueue = endStream;
  conn.waiting.add(stream);
}

/** Writes as much of `data` as the windows and the socket admit, in frames of the peer's size. */
export function writeData(conn: H2Connection, stream: H2Stream, data: Buffer, endStream: boolean): number {
  if (data.length === 0) {
    if (endStream) writeFrames(conn, stream, data, 0, true);
    return 0;
  }
  if (conn.bufferedBytes >= conn.writeHighWater) return 0;
  const window = Math.min(stream.sendWindow, conn.connSendWindow);
  if (window <= 0) return 0;
  const n = Math.min(window, data.length);
  writeFrames(conn, stream, data, n, endStream && n === data.length);
  stream.sendWindow -= n;
  conn.connSendWindow -= n;
  return n;
}

export function writeFrames(conn: H2Connection, stream: H2Stream, data: Buffer, n: number, endStream: boolean): void {
  const max = conn.peerMaxFrameSize;
  let at = 0;
  let frames = 0;
  do {
    const length = Math.min(max, n - at);
    const last = at + length === n;
    conn.write(encodeDataHeader(stream.id, length, endStream && last));
    if (length > 0) conn.write(at === 0 && length === data.length ? data : data.subarray(at, at + length));
    at += length;
    frames++;
  } while (at < n);
  // A peer that receives DATA answers with WINDOW_UPDATEs, and gRPC peers with a PING per burst (BDP
  // estimation): frames our DATA explains are not a flood.
  conn.windowUpdateMeter.credit(2 * frames);
  conn.ackMeter.credit(frames);
  if (endStream) {
    stream.localEnded = true;
    conn.maybeFinish(stream);
  }
}
