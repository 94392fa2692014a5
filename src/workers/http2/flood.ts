// A token bucket per connection and kind of frame: how the lean HTTP/2 engine tells a busy peer from a
// flood (CVE-2019-9512 PING, -9515 SETTINGS, -9518 empty frames, CVE-2023-44487 rapid reset) without a
// timer: tokens refill from the clock only when a frame is counted. A peer that runs the bucket dry gets
// GOAWAY ENHANCE_YOUR_CALM.

export class FloodMeter {
  private tokens: number;
  private last: number;
  private readonly burst: number;
  private readonly perSecond: number;

  /** `burst` frames at once, then `perSecond` on average. */
  constructor(burst: number, perSecond: number, now: number = performance.now()) {
    this.burst = burst;
    this.perSecond = perSecond;
    this.tokens = burst;
    this.last = now;
  }

  /** Counts one frame; true when the peer is over its budget. */
  hit(now: number = performance.now()): boolean {
    const refill = ((now - this.last) * this.perSecond) / 1000;
    if (refill >= 1) {
      this.tokens = Math.min(this.burst, this.tokens + refill);
      this.last = now;
    }
    this.tokens -= 1;
    return this.tokens < 0;
  }

  /** Earned budget: e.g. each DATA frame we send entitles the peer to WINDOW_UPDATEs in answer. */
  credit(n: number): void {
    this.tokens = Math.min(this.burst, this.tokens + n);
  }
}
