// JSON Patch (RFC 6902), the subset injection needs: add, remove, replace. Injection is expressed as
// patch operations rather than as a changed object, so that one description of the change serves three
// consumers: the CLI applies it to a YAML document (keeping comments and key order), tests apply it to
// plain objects, and the webhook sends it to the API server as the AdmissionReview patch.

export type PatchOp =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

export class PatchError extends Error {
  constructor(op: PatchOp, message: string) {
    super(`${op.op} ${op.path}: ${message}`);
    this.name = 'PatchError';
  }
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function pointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`${JSON.stringify(path)} is not a JSON pointer`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

function arrayIndex(op: PatchOp, list: unknown[], segment: string, forInsert: boolean): number {
  if (forInsert && segment === '-') return list.length;
  if (!/^(0|[1-9][0-9]*)$/.test(segment)) throw new PatchError(op, `${JSON.stringify(segment)} is not an array index`);
  const index = Number(segment);
  if (index > list.length || (!forInsert && index === list.length)) throw new PatchError(op, `index ${index} is out of bounds`);
  return index;
}

/** Applies the operations in order to a deep copy of `document`; the input is not changed. */
export function applyPatch<T>(document: T, ops: readonly PatchOp[]): T {
  let root: unknown = structuredClone(document);
  for (const op of ops) root = applyOne(root, op);
  return root as T;
}

function applyOne(root: unknown, op: PatchOp): unknown {
  const segments = parsePointer(op.path);
  const last = segments.pop();
  if (last === undefined) {
    if (op.op === 'remove') throw new PatchError(op, 'cannot remove the whole document');
    return structuredClone(op.value);
  }
  let parent: unknown = root;
  for (const segment of segments) {
    if (!isContainer(parent)) throw new PatchError(op, `no container at ${JSON.stringify(segment)}`);
    parent = Array.isArray(parent) ? parent[arrayIndex(op, parent, segment, false)] : parent[segment];
  }
  if (!isContainer(parent)) throw new PatchError(op, 'the parent does not exist');
  if (Array.isArray(parent)) {
    const index = arrayIndex(op, parent, last, op.op === 'add');
    if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
    else if (op.op === 'remove') parent.splice(index, 1);
    else parent[index] = structuredClone(op.value);
  } else {
    const exists = Object.hasOwn(parent, last);
    if (op.op !== 'add' && !exists) throw new PatchError(op, 'no such member');
    if (op.op === 'remove') delete parent[last];
    else parent[last] = structuredClone(op.value);
  }
  return root;
}

/** Reads the value at a pointer path (segments), or undefined. */
export function getAt(document: unknown, segments: readonly (string | number)[]): unknown {
  let node: unknown = document;
  for (const segment of segments) {
    if (!isContainer(node)) return undefined;
    node = (node as Record<string, unknown>)[String(segment)];
  }
  return node;
}

/**
 * Records operations while applying them to a working copy, so each next decision sees the state the
 * previous operations produced (the RFC applies operations in sequence too).
 */
export class PatchBuilder {
  readonly ops: PatchOp[] = [];
  #doc: unknown;

  constructor(document: unknown) {
    this.#doc = structuredClone(document);
  }

  get document(): unknown {
    return this.#doc;
  }

  get(segments: readonly (string | number)[]): unknown {
    return getAt(this.#doc, segments);
  }

  #push(op: PatchOp): void {
    this.#doc = applyOne(this.#doc, op);
    this.ops.push(op);
  }

  /** Sets a member of an object, creating missing parent objects as one `add` of the nested value. */
  set(segments: readonly (string | number)[], value: unknown): void {
    let depth = 0;
    while (depth < segments.length - 1 && isContainer(this.get(segments.slice(0, depth + 1)))) depth++;
    // segments[0..depth) exist as containers; build the missing tail as one nested value.
    let nested = value;
    for (let i = segments.length - 1; i > depth; i--) nested = { [String(segments[i])]: nested };
    const target = segments.slice(0, depth + 1);
    const exists = depth === segments.length - 1 && this.get(target) !== undefined;
    this.#push({ op: exists ? 'replace' : 'add', path: pointer(target), value: nested });
  }

  /** Inserts into an array (creating it when missing); `index` undefined appends. */
  insert(arrayPath: readonly (string | number)[], value: unknown, index?: number): void {
    const list = this.get(arrayPath);
    if (!Array.isArray(list)) {
      this.set(arrayPath, [value]);
      return;
    }
    this.#push({ op: 'add', path: pointer([...arrayPath, index ?? '-']), value });
  }

  remove(segments: readonly (string | number)[]): void {
    this.#push({ op: 'remove', path: pointer(segments) });
  }
}
