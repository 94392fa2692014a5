// Reading and rewriting Kubernetes manifests for `sluice inject` / `uninject`: files, folders (recursively,
// .yaml/.yml/.json), stdin; YAML streams of several documents and JSON; `List` kinds. A manifest is
// changed only through JSON Patch operations applied to its parsed form (a `yaml` Document for YAML), so
// comments, key order and formatting of everything else are kept.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments, type Document } from 'yaml';
import { applyPatch, type PatchOp } from '../inject/json-patch.ts';
import { applyPatchToYaml } from '../inject/yaml-patch.ts';
import { CliError } from './api-client.ts';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export interface ManifestText {
  /** The file's path, or `-` for stdin. */
  readonly source: string;
  readonly text: string;
}

/** Expands the arguments into manifest texts, in order; folders are walked in name order. */
export async function readManifests(args: readonly string[], readStdin: () => Promise<string>): Promise<ManifestText[]> {
  const out: ManifestText[] = [];
  for (const arg of args) {
    if (arg === '-') {
      out.push({ source: '-', text: await readStdin() });
      continue;
    }
    let info;
    try {
      info = await stat(arg);
    } catch (error) {
      throw new CliError(`cannot read ${arg}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (error as Error).message}`, 1);
    }
    if (info.isDirectory()) {
      for (const file of await manifestFiles(arg)) out.push({ source: file, text: await readFile(file, 'utf8') });
    } else {
      out.push({ source: arg, text: await readFile(arg, 'utf8') });
    }
  }
  return out;
}

async function manifestFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await manifestFiles(full)));
    else if (entry.isFile() && MANIFEST_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) files.push(full);
  }
  return files;
}

/** One Kubernetes object inside a manifest, and how to change it in place. */
export interface ManifestObject {
  readonly value: unknown;
  apply(ops: readonly PatchOp[]): void;
}

export interface Manifest {
  readonly source: string;
  /** The objects in document order; a `List` contributes its items. */
  readonly objects: readonly ManifestObject[];
  /** The manifest as text, with whatever `apply` changed. */
  render(): string;
}

function isList(value: unknown): value is { kind: string; items: unknown[] } {
  const v = value as { kind?: unknown; items?: unknown } | null;
  return typeof v === 'object' && v !== null && typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items);
}

/** JSON when the text parses as JSON, YAML otherwise (JSON is YAML too, but JSON keeps its own layout). */
export function parseManifest(input: ManifestText): Manifest {
  const trimmed = input.text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return jsonManifest(input.source, input.text, JSON.parse(input.text));
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
  }
  return yamlManifest(input.source, input.text);
}

function jsonManifest(source: string, text: string, parsed: unknown): Manifest {
  let root = parsed;
  const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? '';
  const trailing = /\r?\n$/.exec(text)?.[0] ?? '';
  const objectAt = (get: () => unknown, set: (v: unknown) => void): ManifestObject => ({
    get value() {
      return get();
    },
    apply: (ops) => set(applyPatch(get(), ops)),
  });
  const objects: ManifestObject[] = isList(root)
    ? root.items.map((_, i) =>
        objectAt(
          () => (root as { items: unknown[] }).items[i],
          (v) => ((root as { items: unknown[] }).items[i] = v),
        ),
      )
    : [objectAt(() => root, (v) => (root = v))];
  return {
    source,
    objects,
    render: () => (indent === '' && !text.includes('\n') ? JSON.stringify(root) : JSON.stringify(root, null, indent || 2)) + trailing,
  };
}

function yamlManifest(source: string, text: string): Manifest {
  const docs: Document[] = parseAllDocuments(text, { keepSourceTokens: false }) as Document[];
  if (!Array.isArray(docs)) throw new CliError(`${source}: not a YAML stream`, 1);
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error !== undefined) {
      const line = text.slice(0, error.pos[0]).split('\n').length;
      throw new CliError(`${source}:${line}: not valid YAML or JSON: ${error.message.split('\n')[0]}`, 1);
    }
  }
  const objects: ManifestObject[] = [];
  for (const doc of docs) {
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (isList(value)) {
      value.items.forEach((item, i) => {
        let current = item;
        objects.push({
          get value() {
            return current;
          },
          apply: (ops) => {
            applyPatchToYaml(doc, ops, ['items', String(i)]);
            current = applyPatch(current, ops);
          },
        });
      });
    } else {
      let current = value;
      objects.push({
        get value() {
          return current;
        },
        apply: (ops) => {
          applyPatchToYaml(doc, ops);
          current = applyPatch(current, ops);
        },
      });
    }
  }
  const style = yamlStyle(text);
  return { source, objects, render: () => docs.map((d) => d.toString(style)).join('') };
}

/**
 * The printing options that reproduce how the input was written: kubectl-style sequences at the
 * indentation of their key (`indentSeq: false`) or indented under it, `{a: 1}` or `{ a: 1 }`; no
 * line folding (long strings such as the trust anchors stay as they are).
 */
export function yamlStyle(text: string): { lineWidth: number; indentSeq: boolean; flowCollectionPadding: boolean } {
  const sameLevelSeq = /^( *)[^\s#-][^\n]*:[ \t]*\r?\n\1- /m.test(text);
  const indentedSeq = /^( *)[^\s#-][^\n]*:[ \t]*\r?\n\1 +- /m.test(text);
  return { lineWidth: 0, indentSeq: indentedSeq || !sameLevelSeq, flowCollectionPadding: /[[{] [^\s\]}]/.test(text) };
}
