// Memory of recently closed streams, so that frames arriving on them can be told apart (RFC 9113 §5.1):
// after WE reset a stream, the peer may still have frames in flight, which must be ignored; after the
// PEER reset or ended it, further DATA or HEADERS are its mistake (STREAM_CLOSED). A fixed ring: older
// ids are forgotten, and frames on them are then treated as on a stream closed by the peer.

const RING_SIZE = 256;
export const UNKNOWN = 0;
export const CLOSED = 1;
export const RESET_BY_US = 2;

export class ClosedStreams {
  private readonly ids = new Int32Array(RING_SIZE);
  private readonly resetByUs = new Uint8Array(RING_SIZE);
  private next = 0;

  remember(id: number, resetByUs: boolean): void {
    this.ids[this.next] = id;
    this.resetByUs[this.next] = resetByUs ? 1 : 0;
    this.next = (this.next + 1) % RING_SIZE;
  }

  /** True when we reset `id` recently: frames the peer sent before seeing our RST_STREAM are expected. */
  wasResetByUs(id: number): boolean {
    return this.lookup(id) === RESET_BY_US;
  }

  /** UNKNOWN (never seen, or forgotten), CLOSED, or RESET_BY_US. */
  lookup(id: number): number {
    for (let i = 0; i < RING_SIZE; i++) if (this.ids[i] === id) return this.resetByUs[i] === 1 ? RESET_BY_US : CLOSED;
    return UNKNOWN;
  }
}
