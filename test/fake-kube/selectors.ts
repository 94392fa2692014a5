// Label and field selectors as the Kubernetes API server reads them, the common forms only:
// labels `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`; fields `path=v`, `path==v`,
// `path!=v` on any dotted path (the real server allows only a few paths per resource).

export type Matcher = (object: unknown) => boolean;

export class SelectorError extends Error {}

/** Splits on commas that are not inside parentheses. */
function requirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function labelsOf(object: unknown): Record<string, string> {
  const meta = (object as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata;
  return meta?.labels ?? {};
}

function labelRequirement(req: string): (labels: Record<string, string>) => boolean {
  const set = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(req);
  if (set) {
    const [, key = '', op, list = ''] = set;
    const values = new Set(list.split(',').map((v) => v.trim()));
    return op === 'in'
      ? (labels) => key in labels && values.has(labels[key] ?? '')
      : (labels) => !(key in labels) || !values.has(labels[key] ?? '');
  }
  const cmp = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(req);
  if (cmp) {
    const [, key = '', op, value = ''] = cmp;
    return op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
  }
  const absent = /^!\s*([^\s!=(),]+)$/.exec(req);
  if (absent) {
    const key = absent[1] ?? '';
    return (labels) => !(key in labels);
  }
  if (/^[^\s!=(),]+$/.test(req)) return (labels) => req in labels;
  throw new SelectorError(`unable to parse requirement: ${JSON.stringify(req)}`);
}

export function labelSelector(text: string | null | undefined): Matcher {
  if (text === null || text === undefined || text.trim() === '') return () => true;
  const reqs = requirements(text).map(labelRequirement);
  return (object) => {
    const labels = labelsOf(object);
    return reqs.every((req) => req(labels));
  };
}

function fieldValue(object: unknown, path: string): string {
  let value: unknown = object;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return '';
    value = (value as Record<string, unknown>)[key];
  }
  return value === undefined || value === null ? '' : String(value);
}

export function fieldSelector(text: string | null | undefined): Matcher {
  if (text === null || text === undefined || text.trim() === '') return () => true;
  const reqs = requirements(text).map((req): Matcher => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(req);
    if (!m) throw new SelectorError(`invalid field selector: ${JSON.stringify(req)}`);
    const [, path = '', op, value = ''] = m;
    return op === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value;
  });
  return (object) => reqs.every((req) => req(object));
}
