// Kubernetes resource quantities (`500m`, `1`, `0.5`, `2k`, `128Mi`, `1e3`) as numbers: one parser for
// the ServiceProfile translation (weights) and the injector (CPU limits). Pure.
const SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^\s*([+-]?)(\d+\.?\d*|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)\s*$/;

/** The quantity's value (`500m` → 0.5), or undefined when it is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (match === null) return undefined;
  return Number(`${match[1]}${match[2]}${match[3] ?? ''}`) * (SUFFIX[match[4] ?? ''] as number);
}
