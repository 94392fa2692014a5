// Applies JSON Patch operations to a `yaml` Document in place, so that everything the patch does not
// touch — comments, key order, quoting, flow or block style — is printed as it was written. Added keys go
// at the end of their mapping; removing an added node gives the original text back.
import { isMap, isSeq, type Document, type Node as YamlNode, type YAMLMap, type YAMLSeq } from 'yaml';
import { parsePointer, PatchError, type PatchOp } from './json-patch.ts';

function collectionAt(doc: Document, segments: readonly string[], op: PatchOp): YAMLMap | YAMLSeq {
  const node: unknown = segments.length === 0 ? doc.contents : doc.getIn(segments.map(key), true);
  if (isMap(node) || isSeq(node)) return node;
  throw new PatchError(op, 'the parent is not a mapping or a sequence in the YAML document');
}

/** Sequence indexes are numbers in yaml's paths; mapping keys stay strings. */
function key(segment: string): string | number {
  return /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment;
}

function seqIndex(seq: YAMLSeq, segment: string, op: PatchOp, forInsert: boolean): number {
  if (forInsert && segment === '-') return seq.items.length;
  const index = Number(segment);
  if (!/^(0|[1-9][0-9]*)$/.test(segment) || index > seq.items.length || (!forInsert && index === seq.items.length)) {
    throw new PatchError(op, `index ${segment} is out of bounds`);
  }
  return index;
}

/** Applies `ops` to `doc`; `base` is the pointer of the object they were computed for (a List item). */
export function applyPatchToYaml(doc: Document, ops: readonly PatchOp[], base: readonly string[] = []): void {
  for (const op of ops) {
    const segments = [...base, ...parsePointer(op.path)];
    const last = segments.pop();
    if (last === undefined) throw new PatchError(op, 'cannot replace the whole document');
    const parent = collectionAt(doc, segments, op);
    const value = op.op === 'remove' ? undefined : (doc.createNode(op.value) as YamlNode);
    if (isSeq(parent)) {
      const index = seqIndex(parent, last, op, op.op === 'add');
      if (op.op === 'add') parent.items.splice(index, 0, value);
      else if (op.op === 'remove') parent.items.splice(index, 1);
      else parent.items[index] = value;
    } else if (op.op === 'remove') {
      if (!parent.delete(last)) throw new PatchError(op, 'no such member');
    } else {
      parent.set(last, value); // an existing key keeps its place; a new one is appended
    }
  }
}
