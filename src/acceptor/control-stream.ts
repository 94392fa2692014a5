// One server-streaming call to the control plane that keeps itself open: when it ends or fails it is
// opened again after an exponential backoff with jitter (reset by every answer), and a call that has
// said nothing within the initial timeout counts as failed, so requests stop waiting for it. A
// NotFound or InvalidArgument answer means the name is not the controller's: the call is reopened only
// after the longest backoff, in case the name appears later.
import type * as grpc from '@grpc/grpc-js';
import { backoffDelay, type BackoffConfig } from '../core/backoff.ts';

/** grpc status codes used here (`@grpc/grpc-js` `status`), kept local so this file loads without grpc-js. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

export interface StreamHandlers<M> {
  /** `first` is true for the first message of each call (for Destination.Get: the full set). */
  message(message: M, first: boolean): void;
  /** The controller said the name is not one it serves. */
  rejected(code: number, details: string): void;
  /** The call ended or failed otherwise; `answered` says whether it had delivered anything. */
  lost(reason: string, answered: boolean): void;
}

export interface ControlStreamOptions {
  readonly initialTimeoutMs: number;
  readonly backoff: BackoffConfig;
  readonly random?: () => number;
}

export class ControlStream<M> {
  private readonly open: () => grpc.ClientReadableStream<M>;
  private readonly handlers: StreamHandlers<M>;
  private readonly options: ControlStreamOptions;
  private call: grpc.ClientReadableStream<M> | undefined;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(open: () => grpc.ClientReadableStream<M>, handlers: StreamHandlers<M>, options: ControlStreamOptions) {
    this.open = open;
    this.handlers = handlers;
    this.options = options;
  }

  start(): void {
    if (this.stopped || this.call !== undefined) return;
    let call: grpc.ClientReadableStream<M>;
    try {
      call = this.open();
    } catch (error) {
      this.handlers.lost((error as Error).message, false);
      this.retryAfter(this.nextBackoff());
      return;
    }
    this.call = call;
    let answered = false;
    this.timer = setTimeout(() => {
      if (call !== this.call) return;
      this.abandon(call);
      this.handlers.lost(`no answer within ${this.options.initialTimeoutMs} ms`, false);
      this.retryAfter(this.nextBackoff());
    }, this.options.initialTimeoutMs);
    call.on('data', (message: M) => {
      if (call !== this.call) return;
      const first = !answered;
      if (first) {
        answered = true;
        clearTimeout(this.timer);
        this.attempts = 0;
      }
      this.handlers.message(message, first);
    });
    // The outcome is read from 'status', which follows every end; 'error' only needs a listener.
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      // Let messages already received be delivered first.
      setImmediate(() => {
        if (call !== this.call) return;
        this.call = undefined;
        clearTimeout(this.timer);
        if (status.code === NOT_FOUND || status.code === INVALID_ARGUMENT) {
          this.handlers.rejected(status.code, status.details);
          this.retryAfter(backoffDelay(this.options.backoff, Number.MAX_SAFE_INTEGER, this.random()));
          return;
        }
        this.handlers.lost(status.details === '' ? `status ${status.code}` : status.details, answered);
        this.retryAfter(this.nextBackoff());
      });
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const call = this.call;
    if (call !== undefined) this.abandon(call);
  }

  private abandon(call: grpc.ClientReadableStream<M>): void {
    this.call = undefined;
    call.cancel();
  }

  private random(): number {
    return (this.options.random ?? Math.random)();
  }

  private nextBackoff(): number {
    return backoffDelay(this.options.backoff, this.attempts++, this.random());
  }

  private retryAfter(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, ms);
    this.timer.unref();
  }
}
