// Telemetry push: every report interval the main thread collects what each serving thread counted
// since the last collection and sends one report to the controller: the inbound report, with the
// outbound one batched inside it (one message per interval instead of two: at 2,000 proxies the
// controller's cost per call is most of its ingestion cost, docs/performance.md), as a message on the
// proxy's long-lived `Telemetry.ReportStream` (or a `Report` call to an older controller).
//
// Nothing here can hold up serving: collection is one message per worker, sending is asynchronous,
// a tick that is still running when the next is due makes that one skip, and the work that grows with
// the number of series (absorbing deltas, building and encoding the reports) runs in slices that give
// the event loop back every millisecond or so (telemetry-slices.ts): with no worker threads the main
// thread is also the one that serves. Each series' labels are parsed once, not every interval
// (telemetry-series-shape.ts), and a call is encoded once, even when it has to be resent.
//
// When the controller cannot be reached the counts stay in a per-direction accumulator (bounded by the
// number of series) and go out merged with the next report that gets through. A report whose answer
// was lost is retried as it was (the same bytes), with the same sequence number, so the controller can
// tell a retry from new counts: nothing is counted twice and nothing is lost.
import { randomBytes } from 'node:crypto';
import type { ProcessInfo, ReportRequest } from '../api/telemetry-messages.ts';
import { formatHostPort, type HostPort } from '../config/parse.ts';
import type { TelemetryConfig } from '../config/proxy-config.ts';
import type { Logger } from '../log/logger.ts';
import type { Direction } from '../telemetry/proxy-metrics.ts';
import { TelemetryCollector, type TelemetryDelta } from '../telemetry/report-delta.ts';
import type { WorkerContext } from '../workers/proxy/context.ts';
import { SeriesAccumulator } from './telemetry-accumulator.ts';
import { ReportBuilder } from './telemetry-report-builder.ts';
import { ReportEncoding } from './telemetry-report-encode.ts';
import { SeriesShapes } from './telemetry-series-shape.ts';
import { TimeSlicer } from './telemetry-slices.ts';
import type { WorkerPool } from './worker-pool.ts';
import { acquireControlChannel } from './grpc/control-channels.ts';
import { StreamingReportSender } from './telemetry-stream-sender.ts';

/**
 * Series kept per direction while the controller is away; beyond it new series are dropped (and
 * logged). Also what bounds one report's size: a few hundred bytes per series, well under gRPC's 4 MiB.
 */
export const MAX_PENDING_SERIES = 5_000;
/** Deltas' series absorbed between two pauses of a tick. */
const SERIES_PER_STEP = 32;
/** gRPC statuses that no retry can fix: the report is dropped rather than resent forever. */
const HOPELESS = new Map([
  [3, 'the controller rejected the report'],
  [8, 'the report is too large for the controller'],
  [12, 'the controller does not serve sluice.proxy.telemetry.Telemetry'],
]);

/** Where the deltas come from: every worker thread (or the main thread's runtime with no workers). */
export type DeltaSource = () => Promise<readonly TelemetryDelta[]>;

export interface ReportSender {
  /** `encoded`: the request's protobuf bytes, when the caller has them (sent as they are). */
  report(request: ReportRequest, timeoutMs: number, encoded?: Buffer): Promise<void>;
  close(): void;
}

interface Lane {
  readonly direction: Direction;
  pending: SeriesAccumulator;
  /** When the counts in `pending` started. */
  pendingSince: number;
  sequence: number;
}

/** One call: the inbound report with the outbound one batched in it, and its bytes. */
interface PreparedCall {
  readonly request: ReportRequest;
  readonly bytes: Buffer;
}

export interface ReporterOptions {
  readonly config: TelemetryConfig;
  readonly log: Logger;
  readonly collect: DeltaSource;
  readonly sender: ReportSender;
  readonly now?: () => number;
  readonly maxPendingSeries?: number;
}

export class TelemetryReporter {
  readonly instanceId = randomBytes(8).toString('hex');
  /** Report calls (each carrying both directions) the controller accepted, and attempts that failed; for tests and logs. */
  readonly stats = { sent: 0, failed: 0, ticks: 0, dropped: 0 };
  private readonly config: TelemetryConfig;
  private readonly log: Logger;
  private readonly collect: DeltaSource;
  private readonly sender: ReportSender;
  private readonly now: () => number;
  private readonly maxPendingSeries: number;
  private readonly lanes: Lane[];
  /** What each label string means to a report, parsed once (both directions' series). */
  private readonly shapes: SeriesShapes;
  /** A call sent whose outcome is not known to be success; resent as is (same bytes) until it is. */
  private unacked: PreparedCall | undefined;
  /** The size of the last call encoded: the next one is about as large, and is written without growing its buffer. */
  private lastCallBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private unreachableSince: number | undefined;
  private droppedLogged = 0;

  constructor(options: ReporterOptions) {
    this.config = options.config;
    this.log = options.log;
    this.collect = options.collect;
    this.sender = options.sender;
    this.now = options.now ?? Date.now;
    this.maxPendingSeries = options.maxPendingSeries ?? MAX_PENDING_SERIES;
    this.shapes = new SeriesShapes(2 * this.maxPendingSeries);
    const start = this.now();
    this.lanes = (['inbound', 'outbound'] as const).map((direction) => ({
      direction,
      pending: new SeriesAccumulator(this.maxPendingSeries),
      pendingSince: start,
      sequence: 0,
    }));
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.config.reportIntervalMs);
    this.timer.unref();
  }

  /** Collects and sends once. Overlapping calls share the tick already running. */
  tick(): Promise<void> {
    this.running ??= this.runTick().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and makes one last attempt to send what is left; gives up after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    clearInterval(this.timer);
    const last = (async () => {
      await this.running;
      await this.runTick(timeoutMs);
    })();
    await Promise.race([last, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    this.sender.close();
  }

  private async runTick(timeoutMs = this.sendTimeoutMs()): Promise<void> {
    this.stats.ticks++;
    let deltas: readonly TelemetryDelta[];
    try {
      deltas = await this.collect();
    } catch (error) {
      this.log.warn('could not collect telemetry from workers', { error: (error as Error).message });
      deltas = [];
    }
    // Collecting waited on the workers; the tick's own work starts here, in slices.
    const slicer = new TimeSlicer();
    await slicer.run(this.absorb(deltas));
    await this.flush(timeoutMs, slicer);
  }

  private sendTimeoutMs(): number {
    return Math.min(Math.max(this.config.reportIntervalMs, 1000), 10_000);
  }

  /** Adds the deltas to the lanes, pausing every few series. */
  private *absorb(deltas: readonly TelemetryDelta[]): Generator<void> {
    const gauges: Record<Direction, Map<string, Map<string, number>>> = { inbound: new Map(), outbound: new Map() };
    let n = 0;
    for (const delta of deltas) {
      for (const family of delta) {
        // An index loop, no destructuring: see FamilySeries.
        for (let i = 0; i < family.series.length; i++) {
          if (++n % SERIES_PER_STEP === 0) yield;
          const entry = family.series[i] as (typeof family.series)[number];
          const labels = entry[0];
          const value = entry[1];
          const shape = this.shapes.of(labels);
          const direction = shape.direction;
          if (direction === undefined) continue;
          if (family.kind === 'gauge') {
            if (typeof value !== 'number') continue;
            let series = gauges[direction].get(family.name);
            if (series === undefined) gauges[direction].set(family.name, (series = new Map()));
            series.set(shape.labels, (series.get(shape.labels) ?? 0) + value);
          } else {
            this.lane(direction).pending.add(family.name, shape.labels, value);
          }
        }
      }
    }
    for (const lane of this.lanes) {
      lane.pending.setGauges(gauges[lane.direction]);
      if (lane.pending.dropped > this.droppedLogged) {
        this.log.warn('telemetry: too many series while the controller is unreachable; dropping new ones', {
          direction: lane.direction,
          dropped: lane.pending.dropped,
          max: this.maxPendingSeries,
        });
        this.droppedLogged = lane.pending.dropped;
      }
    }
  }

  private lane(direction: Direction): Lane {
    return this.lanes[direction === 'inbound' ? 0 : 1] as Lane;
  }

  private process(): ProcessInfo {
    return {
      scheduled_instance: this.config.podName,
      scheduled_namespace: this.config.podNamespace,
      workload: this.config.workload,
      ...(this.config.localIdentity === '' ? {} : { identity: this.config.localIdentity }),
    };
  }

  /** Builds one direction's report from what it accumulated (in slices), and starts it afresh. */
  private async build(lane: Lane, slicer: TimeSlicer): Promise<ReportRequest> {
    const now = this.now();
    const builder = new ReportBuilder(
      {
        direction: lane.direction,
        process: this.process(),
        instanceId: this.instanceId,
        sequence: ++lane.sequence,
        intervalMs: now - lane.pendingSince,
        reportIntervalMs: this.config.reportIntervalMs,
      },
      lane.pending,
      this.shapes,
    );
    lane.pending = new SeriesAccumulator(this.maxPendingSeries);
    lane.pendingSince = now;
    this.droppedLogged = 0;
    await slicer.run(builder.steps());
    return builder.report();
  }

  /** The call for what both lanes accumulated: both reports built, then encoded (in slices). */
  private async prepare(slicer: TimeSlicer): Promise<PreparedCall> {
    const [inboundLane, outboundLane] = this.lanes as [Lane, Lane];
    const inbound = await this.build(inboundLane, slicer);
    const outbound = await this.build(outboundLane, slicer);
    const request: ReportRequest = { ...inbound, batched: [outbound] };
    const encoding = new ReportEncoding(this.lastCallBytes);
    await slicer.run(encoding.steps(request));
    const bytes = encoding.bytes();
    this.lastCallBytes = bytes.length;
    return { request, bytes };
  }

  private async flush(timeoutMs: number, slicer: TimeSlicer): Promise<void> {
    // A retry goes first, as it was; then, if it got through, the counts gathered meanwhile. Both
    // directions travel in one call, so they succeed or fail together; each keeps its own sequence, so
    // the controller recognises a retried direction on its own.
    const retrying = this.unacked !== undefined;
    for (let attempt = 0; attempt < (retrying ? 2 : 1); attempt++) {
      this.unacked ??= await this.prepare(slicer);
      try {
        await this.sender.report(this.unacked.request, timeoutMs, this.unacked.bytes);
      } catch (error) {
        this.stats.failed++;
        const hopeless = HOPELESS.get((error as { code?: number }).code ?? -1);
        if (hopeless !== undefined) {
          this.stats.dropped++;
          this.unacked = undefined;
          if (this.stats.dropped === 1 || this.stats.dropped % 100 === 0) {
            this.log.warn(`telemetry report dropped: ${hopeless}`, { dropped: this.stats.dropped, error: (error as Error).message });
          }
          return;
        }
        if (this.unreachableSince === undefined) {
          this.unreachableSince = this.now();
          this.log.warn('cannot report telemetry; keeping counts until the controller answers', {
            addr: this.config.svcAddr === undefined ? '' : formatHostPort(this.config.svcAddr),
            error: (error as Error).message,
          });
        }
        return;
      }
      this.unacked = undefined;
      this.stats.sent++;
      if (this.unreachableSince !== undefined) {
        this.log.info('telemetry reports get through again', { afterMs: this.now() - this.unreachableSince });
        this.unreachableSince = undefined;
      }
    }
  }
}

/**
 * Sends reports to the controller's Telemetry service over the proxy's own gRPC client, on the channel
 * it shares with Destination: on one long-lived ReportStream, or unary Report calls against a controller
 * without it (telemetry-stream-sender.ts). A failed report rejects with a GrpcError, whose `code` is the
 * gRPC status.
 */
export function grpcReportSender(addr: HostPort, log: Logger): StreamingReportSender {
  const control = acquireControlChannel(addr);
  return new StreamingReportSender(control.channel, log, () => control.release());
}

/**
 * Starts reporting for the proxy: deltas from the worker pool, or from the main thread's runtime when
 * there are no workers. Sends a first report at once, so the controller knows the pod from the start.
 */
export function startTelemetryReporter(
  config: TelemetryConfig,
  log: Logger,
  pool: WorkerPool | undefined,
  local: WorkerContext | undefined,
): TelemetryReporter {
  if (config.svcAddr === undefined) throw new Error('telemetry reporting needs an address');
  let collect: DeltaSource;
  if (pool !== undefined) {
    collect = () => pool.telemetry();
  } else {
    const collector = local === undefined ? undefined : new TelemetryCollector(local.metrics.registry, () => local.tracker.flush());
    collect = async () => (collector === undefined ? [] : [collector.collect()]);
  }
  const reporter = new TelemetryReporter({ config, log, collect, sender: grpcReportSender(config.svcAddr, log) });
  reporter.start();
  void reporter.tick();
  log.info('reporting telemetry', { addr: formatHostPort(config.svcAddr), intervalMs: config.reportIntervalMs });
  return reporter;
}
