// gRPC carries its deadline in `grpc-timeout` (PROTOCOL-HTTP2.md: up to 8 digits and a unit). The proxy
// holds a gRPC call no longer than its caller's deadline, and without one does not time it out at all:
// streaming calls may legitimately wait long before their first response. Pure.

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Milliseconds (at least 1 for any positive deadline), or undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  return Math.min(Math.max(Math.ceil(ms), 1), 2 ** 31 - 1);
}
