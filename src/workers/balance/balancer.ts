// Power of two choices (P2C): pick two distinct endpoints at random among those available and take the one
// with the lower load. Near-best choices at O(1) cost, without the herding a "least loaded of all" pick
// causes when every proxy sees the same loads (Mitzenmacher; tower's and Linkerd's `p2c`). Pure: the
// caller supplies the random numbers.

export interface Candidate {
  /** Whether the endpoint may take a request now (not ejected, or its probe is free). */
  available(): boolean;
  /** Lower is better (peak-EWMA latency × requests in flight + 1). */
  cost(): number;
}

/**
 * The chosen candidate, or undefined when none is available. Allocation-free on the common paths: one
 * or two candidates, or all available (the usual case), are handled without building a list.
 */
export function pickP2c<T extends Candidate>(candidates: readonly T[], random: () => number): T | undefined {
  const n = candidates.length;
  if (n === 0) return undefined;
  if (n === 1) {
    const only = candidates[0] as T;
    return only.available() ? only : undefined;
  }
  // Two distinct indices: the second is drawn from the n - 1 others.
  const i = Math.floor(random() * n) % n;
  let j = Math.floor(random() * (n - 1)) % (n - 1);
  if (j >= i) j++;
  const a = candidates[i] as T;
  const b = candidates[j] as T;
  const aOk = a.available();
  const bOk = b.available();
  if (aOk && bOk) return b.cost() < a.cost() ? b : a;
  // Some are out (ejected): choose among the available ones only, so an ejected endpoint is never
  // picked while another could take the request.
  const available = candidates.filter((c) => c.available());
  if (available.length === 0) return undefined;
  if (available.length === 1) return available[0];
  return pickP2c(available, random);
}
