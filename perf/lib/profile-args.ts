// Command line of `npm run profile` (perf/profile.ts).
import { PROTOCOLS } from './types.ts';
import type { Protocol } from './types.ts';

export type ProfileMode = 'clinic' | 'cpu-prof';
/** The chains the profiler can put under load: forward address, or the mesh path through a controller. */
export const PROFILE_TARGETS = ['sluice', 'sluice-mesh'] as const;
export type ProfileTarget = (typeof PROFILE_TARGETS)[number];

export interface ProfileOptions {
  modes: ProfileMode[];
  protocols: Protocol[];
  target: ProfileTarget;
  /** Seconds of load per profile. */
  seconds: number;
  /** autocannon connections (HTTP/1.1). */
  h1Connections: number;
  /** h2load clients × concurrent streams (h2c, gRPC). */
  h2Connections: number;
  streams: number;
  top: number;
  help: boolean;
}

export const PROFILE_USAGE = `npm run profile -- [options]

  --only clinic|cpu-prof     one profiler (default: both)
  --protocols h1,h2c,grpc    protocols to profile, one after the other (default: all three)
  --target sluice|sluice-mesh
                             sluice: the forward address (default); sluice-mesh: a controller with file
                             discovery, clients send backend.perf.svc.cluster.local:80 and the proxy
                             resolves it through Destination, as in a pod
  --seconds N                load per profile (default 15)
  --connections N            HTTP/1.1: autocannon connections (default 32)
  --h2-connections N         h2c/gRPC: h2load clients (default 4)…
  --streams N                …× concurrent streams each (default 32)
  --top N                    functions listed per profile (default 30)
  -h, --help`;

function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n <= 0) throw new Error(`${name} needs a whole number > 0`);
  return n;
}

export function parseProfileArgs(argv: readonly string[]): ProfileOptions {
  const o: ProfileOptions = {
    modes: ['clinic', 'cpu-prof'],
    protocols: [...PROTOCOLS],
    target: 'sluice',
    seconds: 15,
    h1Connections: 32,
    h2Connections: 4,
    streams: 32,
    top: 30,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--only': {
        const v = value();
        if (v !== 'clinic' && v !== 'cpu-prof') throw new Error(`--only takes clinic or cpu-prof, not '${v}'`);
        o.modes = [v];
        break;
      }
      case '--protocols': {
        const ps = value()
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        for (const p of ps) if (!(PROTOCOLS as readonly string[]).includes(p)) throw new Error(`unknown protocol '${p}' (expected ${PROTOCOLS.join(', ')})`);
        if (ps.length === 0) throw new Error('--protocols needs at least one protocol');
        o.protocols = [...new Set(ps)] as Protocol[];
        break;
      }
      case '--target': {
        const v = value();
        if (!(PROFILE_TARGETS as readonly string[]).includes(v)) throw new Error(`unknown target '${v}' (expected ${PROFILE_TARGETS.join(' or ')})`);
        o.target = v as ProfileTarget;
        break;
      }
      case '--seconds':
        o.seconds = positiveInt(a, value());
        break;
      case '--connections':
        o.h1Connections = positiveInt(a, value());
        break;
      case '--h2-connections':
        o.h2Connections = positiveInt(a, value());
        break;
      case '--streams':
        o.streams = positiveInt(a, value());
        break;
      case '--top':
        o.top = positiveInt(a, value());
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option '${a}'\n\n${PROFILE_USAGE}`);
    }
  }
  return o;
}
