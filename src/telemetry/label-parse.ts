// Reads back a label string written by `labels()` in metrics.ts (`a="x",b="y\"z"`), so readers other
// than Prometheus (telemetry reports) can use the series as they are, whatever labels they carry.

/** The `[name, value]` pairs of a label string, in order. Malformed input ends the parse early. */
export function parseLabels(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) break;
    const name = text.slice(i, eq);
    let value = '';
    let j = eq + 2;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '"') break;
      if (c === '\\' && j + 1 < text.length) {
        const next = text[++j];
        value += next === 'n' ? '\n' : next;
      } else {
        value += c;
      }
    }
    pairs.push([name, value]);
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return pairs;
}
