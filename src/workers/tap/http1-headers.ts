// A parsed HTTP/1 head's fields as tap events carry them.
import type { Head } from '../http1/parse.ts';
import type { Header } from './registry.ts';

export function headerList(head: Head): Header[] {
  const out: Header[] = [];
  for (let i = 0; i < head.names.length; i++) out.push({ name: head.names[i] as string, value: Buffer.from(head.values[i] as string, 'latin1') });
  return out;
}
