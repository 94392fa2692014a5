// The HPACK static table (RFC 7541 Appendix A): 61 fields both sides know without sending them, and the
// encoder's reverse lookups (exact field → index, name → first index) built once at module load.

/** Static entries in index order: entry `i` (1-based in HPACK) is `[STATIC_NAMES[i-1], STATIC_VALUES[i-1]]`. */
const STATIC_ENTRIES: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

export const STATIC_TABLE_LENGTH = 61;
export const STATIC_NAMES: readonly string[] = STATIC_ENTRIES.map((entry) => entry[0]);
export const STATIC_VALUES: readonly string[] = STATIC_ENTRIES.map((entry) => entry[1]);

/** What the static table holds for one name: its lowest index and the index of each of its values. */
export interface StaticName {
  readonly index: number;
  readonly values: ReadonlyMap<string, number>;
}

/** Reverse lookup for the encoder: one map read answers both "exact field?" and "name?". */
export const STATIC_BY_NAME: ReadonlyMap<string, StaticName> = (() => {
  const byName = new Map<string, { index: number; values: Map<string, number> }>();
  for (let i = 0; i < STATIC_ENTRIES.length; i++) {
    const [name, value] = STATIC_ENTRIES[i]!;
    let entry = byName.get(name);
    if (entry === undefined) byName.set(name, (entry = { index: i + 1, values: new Map() }));
    entry.values.set(value, i + 1);
  }
  return byName;
})();
