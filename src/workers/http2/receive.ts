// What the lean HTTP/2 engine does with each frame it receives: the rules of RFC 9113 as a good server or
// client applies them — stream states (§5.1), frames that must or must not be on stream 0, frame sizes,
// SETTINGS validation (§6.5.2), flow-control accounting (§6.9), HEADERS/CONTINUATION sequencing (§6.10),
// message validity (§8, message.ts) — and the flood limits. Connection errors end in GOAWAY, stream
// errors in RST_STREAM, each with the code the RFC names. Functions of the connection's state, no closures.
import { CLOSED, RESET_BY_US } from './closed-streams.ts';
import type { H2Connection } from './connection.ts';
import { ErrorCode, Flag, FrameType, MAX_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE, MAX_WINDOW, SettingId, encodePing, encodeSettingsAck, H2Error } from './frames.ts';
import { applyLocalSettings, refund, refundConnection } from './receive-window.ts';
import { flushAll, flushStream } from './send.ts';
import { checkRequestHead, checkResponseHead, checkTrailers } from './message.ts';
import { H2Stream, Phase } from './stream.ts';

/** A header block in the making: HEADERS without END_HEADERS, then CONTINUATION frames. */
export interface HeaderAssembly {
  streamId: number;
  flags: number;
  selfDependent: boolean;
  parts: Buffer[];
  bytes: number;
  frames: number;
}

/** More CONTINUATION frames than this for one block is a flood, whatever their size. */
const MAX_BLOCK_FRAMES = 64;

export function receiveFrame(conn: H2Connection, type: number, flags: number, streamId: number, payload: Buffer, wireLength: number): void {
  if (conn.assembly.streamId !== 0 && type !== FrameType.CONTINUATION) {
    return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `frame type ${type} inside a header block`);
  }
  switch (type) {
    case FrameType.DATA:
      return onDataFrame(conn, flags, streamId, payload, wireLength);
    case FrameType.HEADERS:
      return onHeadersFrame(conn, flags, streamId, payload);
    case FrameType.CONTINUATION:
      return onContinuation(conn, flags, streamId, payload);
    case FrameType.PRIORITY:
      return onPriority(conn, streamId, payload);
    case FrameType.RST_STREAM:
      return onRstStream(conn, streamId, payload);
    case FrameType.SETTINGS:
      return onSettings(conn, flags, streamId, payload);
    case FrameType.PUSH_PROMISE:
      // Servers never receive it; as a client we disabled push (SETTINGS_ENABLE_PUSH 0).
      return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE not allowed');
    case FrameType.PING:
      return onPing(conn, flags, streamId, payload);
    case FrameType.GOAWAY:
      return onGoaway(conn, streamId, payload);
    case FrameType.WINDOW_UPDATE:
      return onWindowUpdate(conn, streamId, payload);
    default:
      // Unknown frame types are ignored (§4.1, §5.5).
      return;
  }
}

/** A stream id the sender could not have opened yet (§5.1: frames other than PRIORITY on it → PROTOCOL_ERROR). */
function isIdle(conn: H2Connection, streamId: number): boolean {
  const clientInitiated = (streamId & 1) === 1;
  if (conn.role === 'server') return !clientInitiated || streamId > conn.lastPeerStreamId;
  return !clientInitiated || streamId >= conn.nextStreamId;
}

function onDataFrame(conn: H2Connection, flags: number, streamId: number, payload: Buffer, wireLength: number): void {
  if (streamId === 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
  if (wireLength > conn.connRecvWindow) return conn.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
  conn.connRecvWindow -= wireLength;
  const stream = conn.streams.get(streamId);
  if (stream === undefined || stream.remoteEnded) {
    // Nobody will consume these bytes: they return to the connection window at once.
    refundConnection(conn, wireLength);
    if (stream !== undefined) return conn.streamError(streamId, ErrorCode.STREAM_CLOSED);
    if (isIdle(conn, streamId)) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
    if (conn.closedStreams.wasResetByUs(streamId)) return;
    return conn.streamError(streamId, ErrorCode.STREAM_CLOSED);
  }
  if (stream.phase !== Phase.BODY) {
    refundConnection(conn, wireLength);
    return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  }
  if (wireLength > stream.recvWindow) {
    refundConnection(conn, wireLength);
    return conn.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR);
  }
  stream.recvWindow -= wireLength;
  const endStream = (flags & Flag.END_STREAM) !== 0;
  const length = payload.length;
  if (wireLength > length) {
    // Padding is not for the handler: refund it now.
    stream.unconsumed += wireLength - length;
    refund(conn, stream, wireLength - length);
  }
  if (length === 0 && !endStream && conn.emptyMeter.hit()) return conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'empty DATA flood');
  stream.receivedLength += length;
  if (stream.expectedLength >= 0 && (stream.receivedLength > stream.expectedLength || (endStream && stream.receivedLength !== stream.expectedLength))) {
    refundConnection(conn, length);
    return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  }
  stream.unconsumed += length;
  if (endStream) stream.remoteEnded = true;
  conn.handler.onData(stream, payload, endStream);
  if (endStream) conn.maybeFinish(stream);
}

function onHeadersFrame(conn: H2Connection, flags: number, streamId: number, payload: Buffer): void {
  if (streamId === 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
  let block = payload;
  let selfDependent = false;
  if ((flags & Flag.PRIORITY) !== 0) {
    if (block.length < 5) return conn.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS too short for its priority fields');
    selfDependent = (block.readUInt32BE(0) & MAX_WINDOW) === streamId;
    block = block.subarray(5);
  }
  if ((flags & Flag.END_HEADERS) === 0) {
    const a = conn.assembly;
    a.streamId = streamId;
    a.flags = flags;
    a.selfDependent = selfDependent;
    a.parts = [block];
    a.bytes = block.length;
    a.frames = 1;
    if (a.bytes > conn.maxHeaderBlockBytes) return conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    return;
  }
  onHeaderBlock(conn, flags, streamId, block, selfDependent);
}

function onContinuation(conn: H2Connection, flags: number, streamId: number, payload: Buffer): void {
  const a = conn.assembly;
  if (a.streamId === 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
  if (streamId !== a.streamId) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `CONTINUATION on stream ${streamId} inside stream ${a.streamId}'s header block`);
  a.parts.push(payload);
  a.bytes += payload.length;
  a.frames++;
  if (a.bytes > conn.maxHeaderBlockBytes || a.frames > MAX_BLOCK_FRAMES) return conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'CONTINUATION flood');
  const endHeaders = (flags & Flag.END_HEADERS) !== 0;
  if (payload.length === 0 && !endHeaders && conn.emptyMeter.hit()) return conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'empty CONTINUATION flood');
  if (!endHeaders) return;
  const block = a.parts.length === 1 ? a.parts[0]! : Buffer.concat(a.parts, a.bytes);
  a.streamId = 0;
  a.parts = [];
  onHeaderBlock(conn, a.flags, streamId, block, a.selfDependent);
}

function onHeaderBlock(conn: H2Connection, flags: number, streamId: number, block: Buffer, selfDependent: boolean): void {
  // Decode first, whatever happens to the stream: the HPACK table must stay in step with the peer's.
  let headers: string[] | null;
  try {
    headers = conn.decoder.decode(block);
  } catch (err) {
    return conn.connectionError(ErrorCode.COMPRESSION_ERROR, (err as Error).message);
  }
  const endStream = (flags & Flag.END_STREAM) !== 0;
  const stream = conn.streams.get(streamId);
  if (stream === undefined) return onNewStreamHead(conn, streamId, headers, endStream, selfDependent);
  if (selfDependent) return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  if (stream.remoteEnded) return conn.streamError(streamId, ErrorCode.STREAM_CLOSED);
  if (conn.role === 'client' && stream.phase === Phase.AWAITING_HEAD) return onResponseHead(conn, stream, headers, endStream);
  // A second head on the stream: trailers, which must end it (§8.1).
  const facts = conn.facts;
  if (!endStream || headers === null || checkTrailers(headers, facts) !== null) {
    return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  }
  if (stream.expectedLength >= 0 && stream.receivedLength !== stream.expectedLength) return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  stream.remoteEnded = true;
  conn.handler.onTrailers(stream, headers);
  conn.maybeFinish(stream);
}

function onNewStreamHead(conn: H2Connection, streamId: number, headers: string[] | null, endStream: boolean, selfDependent: boolean): void {
  if (conn.role === 'client') {
    if (isIdle(conn, streamId)) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId}, which we did not open`);
    if (conn.closedStreams.wasResetByUs(streamId)) return;
    return conn.streamError(streamId, ErrorCode.STREAM_CLOSED);
  }
  if ((streamId & 1) === 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `client opened even stream ${streamId}`);
  if (streamId <= conn.lastPeerStreamId) {
    // A stream that was open and is closed (§5.1) vs an id skipped over or long forgotten: a client's
    // new stream ids must increase (§5.1.1).
    const seen = conn.closedStreams.lookup(streamId);
    if (seen === RESET_BY_US) return;
    if (seen === CLOSED) return conn.connectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${streamId}`);
    return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `stream id ${streamId} not above ${conn.lastPeerStreamId}`);
  }
  conn.lastPeerStreamId = streamId;
  // After our final GOAWAY, new streams are ignored (§6.8): the client retries them elsewhere.
  if (conn.goawaySentLastId >= 0 && streamId > conn.goawaySentLastId) return;
  if (selfDependent) return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  if (conn.peerActive >= conn.maxConcurrentStreams) return conn.streamError(streamId, ErrorCode.REFUSED_STREAM);
  // A head over SETTINGS_MAX_HEADER_LIST_SIZE (null) still opens the stream, for the handler to answer 431.
  const facts = conn.facts;
  facts.contentLength = -1;
  if (headers !== null && checkRequestHead(headers, facts) !== null) return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  if (endStream && facts.contentLength > 0) return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  const stream = new H2Stream(streamId, conn.peerInitialWindow, conn.effectiveStreamWindow);
  stream.phase = Phase.BODY;
  stream.expectedLength = facts.contentLength;
  stream.remoteEnded = endStream;
  conn.streams.set(streamId, stream);
  conn.peerActive++;
  if (headers === null) {
    stream.headersTooLarge = true;
    conn.handler.onHeadersTooLarge(stream);
  } else {
    conn.handler.onRequestHeaders(stream, headers, endStream);
  }
}

function onResponseHead(conn: H2Connection, stream: H2Stream, headers: string[] | null, endStream: boolean): void {
  if (headers === null) {
    // Over our SETTINGS_MAX_HEADER_LIST_SIZE: the handler decides (a proxy resets and answers 502).
    stream.phase = Phase.BODY;
    stream.remoteEnded = endStream;
    stream.headersTooLarge = true;
    conn.handler.onHeadersTooLarge(stream);
    if (endStream) conn.maybeFinish(stream);
    return;
  }
  const facts = conn.facts;
  if (checkResponseHead(headers, facts) !== null) return conn.streamError(stream.id, ErrorCode.PROTOCOL_ERROR);
  const status = facts.status;
  if (status < 200) {
    // 101 does not exist in HTTP/2 (§8.6); an informational head cannot end the stream (§8.1).
    if (endStream || status === 101) return conn.streamError(stream.id, ErrorCode.PROTOCOL_ERROR);
    conn.handler.onResponseHeaders(stream, headers, status, false);
    return;
  }
  const bodyless = stream.isHeadRequest || status === 204 || status === 304;
  stream.expectedLength = bodyless ? -1 : facts.contentLength;
  if (endStream && stream.expectedLength > 0) return conn.streamError(stream.id, ErrorCode.PROTOCOL_ERROR);
  stream.phase = Phase.BODY;
  stream.remoteEnded = endStream;
  conn.handler.onResponseHeaders(stream, headers, status, endStream);
  if (endStream) conn.maybeFinish(stream);
}

function onPriority(conn: H2Connection, streamId: number, payload: Buffer): void {
  if (streamId === 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
  if (payload.length !== 5) return conn.streamError(streamId, ErrorCode.FRAME_SIZE_ERROR);
  // Deprecated and ignored (§5.3.2), but a stream cannot depend on itself (§5.3.1).
  if ((payload.readUInt32BE(0) & MAX_WINDOW) === streamId) return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
}

function onRstStream(conn: H2Connection, streamId: number, payload: Buffer): void {
  if (streamId === 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
  if (payload.length !== 4) return conn.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM of the wrong size');
  const stream = conn.streams.get(streamId);
  if (stream === undefined) {
    if (isIdle(conn, streamId)) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
    return;
  }
  const code = payload.readUInt32BE(0);
  conn.retire(stream, false, true);
  conn.handler.onReset(stream, code);
  if (conn.role === 'server' && conn.resetMeter.hit()) conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'rapid reset');
}

function onSettings(conn: H2Connection, flags: number, streamId: number, payload: Buffer): void {
  if (streamId !== 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
  if ((flags & Flag.ACK) !== 0) {
    if (payload.length !== 0) return conn.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
    return applyLocalSettings(conn);
  }
  if (payload.length % 6 !== 0) return conn.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
  if (conn.ackMeter.hit()) return conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'SETTINGS flood');
  let windowGrew = false;
  for (let at = 0; at < payload.length; at += 6) {
    const id = payload.readUInt16BE(at);
    const value = payload.readUInt32BE(at + 2);
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        conn.encoder.setMaxTableSize(value);
        break;
      case SettingId.ENABLE_PUSH:
        if (value > 1 || (conn.role === 'client' && value !== 0)) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `invalid SETTINGS_ENABLE_PUSH ${value}`);
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        if (value > conn.peerMaxConcurrentStreams) windowGrew = true;
        conn.peerMaxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE: {
        if (value > MAX_WINDOW) return conn.connectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value} above 2^31-1`);
        const delta = value - conn.peerInitialWindow;
        conn.peerInitialWindow = value;
        // Applies to every open stream, and may take windows below zero (§6.9.2).
        for (const stream of conn.streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW) return conn.connectionError(ErrorCode.FLOW_CONTROL_ERROR, `stream ${stream.id} window above 2^31-1`);
        }
        if (delta > 0) windowGrew = true;
        break;
      }
      case SettingId.MAX_FRAME_SIZE:
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `invalid SETTINGS_MAX_FRAME_SIZE ${value}`);
        conn.peerMaxFrameSize = value;
        break;
      case 0x8: // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): a boolean; we do not use it.
        if (value > 1) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `invalid SETTINGS_ENABLE_CONNECT_PROTOCOL ${value}`);
        break;
      default:
        // MAX_HEADER_LIST_SIZE is advisory for a sender; unknown settings are ignored (§6.5.2).
        break;
    }
  }
  conn.writeAnswer(encodeSettingsAck());
  if (windowGrew) {
    flushAll(conn);
    if (conn.capacityWanted && conn.role === 'client' && conn.canOpenStream()) {
      conn.capacityWanted = false;
      conn.handler.onStreamCapacity();
    }
  }
}

function onPing(conn: H2Connection, flags: number, streamId: number, payload: Buffer): void {
  if (streamId !== 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
  if (payload.length !== 8) return conn.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING of the wrong size');
  if ((flags & Flag.ACK) !== 0) {
    // Never answer an ACK.
    if (conn.isDrainPing(payload)) return conn.onDrainPingAck();
    return conn.handler.onPingAck(payload);
  }
  if (conn.ackMeter.hit()) return conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'PING flood');
  conn.writeAnswer(encodePing(payload, true));
}

function onGoaway(conn: H2Connection, streamId: number, payload: Buffer): void {
  if (streamId !== 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
  if (payload.length < 8) return conn.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY too short');
  const lastStreamId = payload.readUInt32BE(0) & MAX_WINDOW;
  const code = payload.readUInt32BE(4);
  conn.goawayReceivedLastId = conn.goawayReceivedLastId < 0 ? lastStreamId : Math.min(lastStreamId, conn.goawayReceivedLastId);
  conn.draining = true;
  // Streams we opened above the peer's last id were not processed: safe to retry elsewhere (§6.8).
  const localParity = conn.role === 'client' ? 1 : 0;
  for (const stream of conn.streams.values()) {
    if ((stream.id & 1) === localParity && stream.id > lastStreamId) {
      conn.retire(stream, false, true);
      conn.handler.onReset(stream, ErrorCode.REFUSED_STREAM);
    }
  }
  conn.handler.onGoaway(lastStreamId, code, payload.subarray(8));
  if (conn.streams.size === 0 && !conn.closed) conn.terminate(code === ErrorCode.NO_ERROR ? null : new H2Error(code, `GOAWAY from the peer: ${payload.subarray(8).toString('utf8')}`), true);
}

function onWindowUpdate(conn: H2Connection, streamId: number, payload: Buffer): void {
  if (payload.length !== 4) return conn.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE of the wrong size');
  if (conn.windowUpdateMeter.hit()) return conn.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'WINDOW_UPDATE flood');
  const increment = payload.readUInt32BE(0) & MAX_WINDOW;
  if (streamId === 0) {
    if (increment === 0) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
    conn.connSendWindow += increment;
    if (conn.connSendWindow > MAX_WINDOW) return conn.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
    return flushAll(conn);
  }
  const stream = conn.streams.get(streamId);
  if (stream === undefined) {
    if (isIdle(conn, streamId)) return conn.connectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
    return;
  }
  if (increment === 0) return conn.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
  stream.sendWindow += increment;
  if (stream.sendWindow > MAX_WINDOW) return conn.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR);
  if (stream.queuedBytes > 0) flushStream(conn, stream);
}
