import type { FreezeFigures } from './freezes.ts';
// Shapes of what the benchmark measures and writes to perf/results/latest.json.
import type { Curve, LatencySummary } from './stats.ts';
import type { ControllerResult } from '../controller.ts';

export type Protocol = 'h1' | 'h2c' | 'grpc';
export const PROTOCOLS: readonly Protocol[] = ['h1', 'h2c', 'grpc'];

export const PROTOCOL_TITLES: Record<Protocol, string> = {
  h1: 'HTTP/1.1 keep-alive',
  h2c: 'h2c (HTTP/2 cleartext)',
  grpc: 'gRPC unary (over h2c)',
};

/** What one open-loop run (perf/loadgen/openloop.ts) prints as its single JSON line. */
export interface OpenLoopResult {
  protocol: Protocol;
  /** Requested rate, per second. */
  rate: number;
  /** Measured phase length, seconds (after the warm-up). */
  seconds: number;
  connections: number;
  /** Requests scheduled in the measured phase. */
  scheduled: number;
  /** Responses that arrived complete and successful in the measured phase. */
  ok: number;
  /** Failed requests: bad status, grpc-status ≠ 0, connection errors, and those still unanswered at the end. */
  errors: number;
  /** Successful responses per second, from the phase's first scheduled send to its last response (or last scheduled send, if later). */
  achievedRate: number;
  /** How late the generator itself was in putting requests on the wire (send time − scheduled time), µs. */
  sendLagUs: { p99: number; max: number };
  /** Latency from the scheduled send time to the end of the response, µs. */
  latency: LatencySummary;
  curve: Curve;
  firstError?: string;
  /**
   * With freeze sentinels on the run's cores: the latency of the successful requests that no freeze of
   * a core overlapped, how many did (`touched`), and the freezes inside the measured phase. For reading
   * only (p99 added does not use it): the windows in which the kernel's DAMON thread (kdamond) held a
   * core, how many requests a freeze or such a window touched, and the p99 of the others.
   */
  outsideFreezes?: {
    latency: LatencySummary;
    touched: number;
    freezes: number;
    frozenMs: number;
    housekeeping?: { windows: number; ms: number; touched: number; p99: number };
  };
  /** Set by `npm run perf`, not the generator: CPU of the target's proxies per request sent at this rate, µs. */
  proxyCpuUsPerRequest?: number;
  /** The backend's CPU per request sent during the run (warm-up included), µs: the core's speed then. */
  backendCpuUsPerRequest?: number;
  /**
   * Set by `npm run perf`, which runs the fixed rates in rounds, every target once per round
   * (lib/rounds.ts): which round this result is (1-based). Absent in results from before rounds.
   */
  round?: number;
  /** Every round's run of this target at this rate, the kept one included, in round order. */
  rounds?: RoundFigures[];
  /** Direct's run in the same round as this one: what this result's p99 added is measured against. */
  sameRoundDirect?: P99Sides;
}

/** The latency figures p99 added compares: all requests, and those no core freeze touched (when split). */
export interface P99Sides {
  latency: LatencySummary;
  outsideFreezes?: { latency: LatencySummary } | undefined;
}

/** One round's run of a target at one rate, in short. */
export interface RoundFigures {
  /** 1-based. */
  round: number;
  /** p99 of the run, µs: of the requests no core freeze touched when the sentinels split them, else of all. */
  p99Us: number;
  /**
   * p99 added over direct's run of the same round, µs (outside freezes when both runs were split, as the
   * checks compare); null for direct itself, or when direct has no run in that round or either had no answers.
   */
  p99AddedUs: number | null;
  errors: number;
  /** The backend's CPU per request in the run: the core's speed during it. */
  backendCpuUsPerRequest?: number | undefined;
}

export interface SaturationResult {
  tool: 'autocannon' | 'h2load';
  seconds: number;
  connections: number;
  /** h2load: concurrent streams per connection. */
  streams: number;
  /** Successful responses. */
  requests: number;
  errors: number;
  /** Successful responses per second. */
  rps: number;
  /** CPU seconds used by the proxy process(es) (all proxies of the chain) during the measured run. */
  proxyCpuSeconds: number | null;
  /** Proxy CPU per successful request, µs. */
  proxyCpuUsPerRequest: number | null;
  backendCpuUsPerRequest: number;
  /** Mesh targets: CPU of the controller (Destination, Telemetry) per successful request, µs; not proxy CPU. */
  controllerCpuUsPerRequest?: number;
  note?: string;
}

export interface MemoryFigures {
  /** Resident memory after start-up and a short settle, no traffic, bytes. */
  idle: number;
  /**
   * For the targets the idle limits are about (IDLE_SETTLED_TARGETS): resident memory once the proxy has
   * sat idle long enough for V8's idle-time collection (IDLE_SETTLE_MS after `idle`), bytes.
   */
  idleSettled?: number;
  /** Right after the saturation run. */
  afterSaturation: number;
  /** Highest resident memory seen (VmHWM) by the end. */
  peak: number;
  /** At the end of all runs of the protocol. */
  end: number;
}

export interface RunResult {
  target: string;
  protocol: Protocol;
  ok: boolean;
  error?: string;
  /** One entry per proxy process in the chain (two for sluice-2); empty for direct. */
  memory: MemoryFigures[];
  saturation?: SaturationResult;
  fixed: OpenLoopResult[];
  notes: string[];
}

export interface TargetCheck {
  name: string;
  limit: string;
  value: string;
  pass: boolean | null;
}

export interface MachineInfo {
  date: string;
  host: string;
  kernel: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  gitCommit: string;
  gitDirty: boolean;
  tools: Record<string, string>;
}

/** How the handshake client (perf/loadgen/connrate.ts) connects: plain TCP, full mTLS handshakes, resumed ones. */
export type HandshakeMode = 'plain' | 'tls-full' | 'tls-resumed';

/** One mode of the handshake section: connections opened, one request each, against proxy B's inbound. */
export interface HandshakeRun {
  mode: HandshakeMode;
  /** Client loops running at once. */
  concurrency: number;
  seconds: number;
  /** Connections that completed their request and closed. */
  connections: number;
  errors: number;
  /** TLS connections whose session the server resumed (tls-resumed should be all of them). */
  resumed: number;
  /** Completed connections per second (as fast as this client, on its own core, could open them). */
  perSecond: number;
  /** CPU of the inbound proxy (all threads) per completed connection, µs: the figure independent of the client. */
  proxyCpuUsPerConnection: number;
  /** The client's own CPU per connection, µs (it does the other half of every handshake). */
  clientCpuUsPerConnection: number;
  /** Connect + handshake + request + close, µs. */
  latencyUs: { p50: number; p99: number; max: number };
  firstError?: string;
}

export interface HandshakeResult {
  ok: boolean;
  error?: string;
  runs: HandshakeRun[];
  notes: string[];
}

export interface PerfReport {
  machine: MachineInfo;
  settings: Record<string, unknown>;
  skipped: Array<{ target: string; reason: string }>;
  runs: RunResult[];
  /** The controller section (perf/controller.ts), when it ran. */
  controller?: ControllerResult;
  /** The handshake section (perf/handshakes.ts), when it ran. */
  handshakes?: HandshakeResult;
  checks: TargetCheck[];
  durationSeconds: number;
  /** The cores' freezes (lib/freezes.ts) measured idle before the first and after the last run, when possible. */
  freezes?: { before: FreezeFigures[]; after: FreezeFigures[] };
}
