// One server-streaming call to the control plane that keeps itself open: when it ends or fails it is
// opened again after an exponential backoff with jitter (reset by every answer), and a call that has
// said nothing within the initial timeout counts as failed, so requests stop waiting for it. A
// NotFound or InvalidArgument answer means the name is not the controller's: the call is reopened only
// after the longest backoff, in case the name appears later.
import { backoffDelay, type BackoffConfig } from '../core/backoff.ts';
import type { CallObserver, ClientCallHandle } from './grpc/channel.ts';
import { Status, type GrpcStatus } from './grpc/status.ts';

/** Opens one call whose events go to `observer`. */
export type OpenCall<M> = (observer: CallObserver<M>) => ClientCallHandle;

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
  private readonly open: OpenCall<M>;
  private readonly handlers: StreamHandlers<M>;
  private readonly options: ControlStreamOptions;
  private call: ClientCallHandle | undefined;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(open: OpenCall<M>, handlers: StreamHandlers<M>, options: ControlStreamOptions) {
    this.open = open;
    this.handlers = handlers;
    this.options = options;
  }

  start(): void {
    if (this.stopped || this.call !== undefined) return;
    let answered = false;
    // Set once `open` returned: an observer event for an older call (or none yet) is ignored.
    let call: ClientCallHandle | undefined;
    const observer: CallObserver<M> = {
      message: (message) => {
        if (call === undefined || call !== this.call) return;
        const first = !answered;
        if (first) {
          answered = true;
          clearTimeout(this.timer);
          this.attempts = 0;
        }
        this.handlers.message(message, first);
      },
      status: (status) => {
        // Deferred: a call can end while `open` is still running (a closed channel), and the handlers
        // must not run inside it.
        setImmediate(() => this.ended(call, status, answered));
      },
    };
    try {
      call = this.open(observer);
    } catch (error) {
      this.handlers.lost((error as Error).message, false);
      this.retryAfter(this.nextBackoff());
      return;
    }
    this.call = call;
    this.timer = setTimeout(() => {
      if (call !== this.call) return;
      this.abandon(call);
      this.handlers.lost(`no answer within ${this.options.initialTimeoutMs} ms`, false);
      this.retryAfter(this.nextBackoff());
    }, this.options.initialTimeoutMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const call = this.call;
    if (call !== undefined) this.abandon(call);
  }

  private abandon(call: ClientCallHandle): void {
    this.call = undefined;
    call.cancel();
  }

  private ended(call: ClientCallHandle | undefined, status: GrpcStatus, answered: boolean): void {
    if (call === undefined || call !== this.call) return;
    this.call = undefined;
    clearTimeout(this.timer);
    if (status.code === Status.NOT_FOUND || status.code === Status.INVALID_ARGUMENT) {
      this.handlers.rejected(status.code, status.details);
      this.retryAfter(backoffDelay(this.options.backoff, Number.MAX_SAFE_INTEGER, this.random()));
      return;
    }
    this.handlers.lost(status.details === '' ? `status ${status.code}` : status.details, answered);
    this.retryAfter(this.nextBackoff());
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
