// kubectl-style resource arguments: `deploy`, `deploy/web`, `deploy web api`, `deploy/web po/web-1`,
// and the `--to` / `--from` flags (`svc/web`, `deploy/web`, `ns/other`).
import { canonicalType, type ResourceType } from '../api/resource-types.ts';
import { CliError } from './api-client.ts';

export interface Target {
  readonly type: ResourceType | 'all';
  /** '' = every resource of the type. */
  readonly name: string;
}

const TYPES_HELP = 'deploy, sts, ds, job, po, ns, svc, au, all';

function typeOf(text: string): ResourceType | 'all' {
  const type = canonicalType(text);
  if (type === undefined) throw new CliError(`unknown resource type "${text}"; expected one of ${TYPES_HELP}`, 2);
  return type;
}

/** The positional arguments of `stat` / `routes` as targets. */
export function parseTargets(args: readonly string[]): Target[] {
  if (args.length === 0) throw new CliError(`no resource given; e.g. "deploy", "deploy/web" or "po web-1" (types: ${TYPES_HELP})`, 2);
  const first = args[0] as string;
  if (first.includes('/')) {
    return args.map((arg) => {
      const slash = arg.indexOf('/');
      if (slash < 0) throw new CliError(`"${arg}": when one resource is written TYPE/NAME, all must be`, 2);
      const name = arg.slice(slash + 1);
      if (name === '') throw new CliError(`"${arg}": missing the name after the slash`, 2);
      return { type: typeOf(arg.slice(0, slash)), name };
    });
  }
  const type = typeOf(first);
  const names = args.slice(1);
  for (const name of names) if (name.includes('/')) throw new CliError(`"${name}": give either TYPE NAME… or TYPE/NAME…, not both`, 2);
  if (type === 'all' && names.length > 0) throw new CliError('"all" takes no names', 2);
  return names.length === 0 ? [{ type, name: '' }] : names.map((name) => ({ type, name }));
}

/** A `--to` / `--from` value: `TYPE/NAME` or a bare `TYPE`. */
export function parseResourceFlag(flag: string, value: string): Target & { type: ResourceType } {
  const slash = value.indexOf('/');
  const type = typeOf(slash < 0 ? value : value.slice(0, slash));
  if (type === 'all') throw new CliError(`${flag} cannot be "all"`, 2);
  return { type, name: slash < 0 ? '' : value.slice(slash + 1) };
}
