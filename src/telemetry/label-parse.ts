// Reads back a label string written by `labels()` in metrics.ts (`a="x",b="y\"z"`), so readers other
// than Prometheus (telemetry reports) can use the series as they are, whatever labels they carry.
// A value without escapes (nearly all of them) is one slice of the text, not a string grown a
// character at a time: the telemetry reporter parses every new series it sees.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The `[name, value]` pairs of a label string, in order. Malformed input ends the parse early. */
export function parseLabels(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) break;
    const name = text.slice(i, eq);
    let j = eq + 2;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c === QUOTE || c === BACKSLASH) break;
      j++;
    }
    let value = text.slice(eq + 2, j);
    // An escape: the rest of the value a character at a time (an unterminated value runs to the end).
    if (j < text.length && text.charCodeAt(j) === BACKSLASH) {
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
    }
    pairs.push([name, value]);
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return pairs;
}
