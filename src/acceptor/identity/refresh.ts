// When the proxy renews its certificate: at 70 % of the lifetime it has left when it arrives, as
// Linkerd's proxy does, bounded to 10 s … 24 h (the floor keeps a very short-lived certificate from
// turning into a Certify storm; the ceiling keeps a years-long one from never being renewed). Renewing
// well before expiry leaves 30 % of the lifetime for retries while the controller is unreachable.

export const REFRESH_FRACTION = 0.7;
export const MIN_REFRESH_MS = 10_000;
export const MAX_REFRESH_MS = 24 * 3600_000;

export function refreshDelayMs(notAfterMs: number, nowMs: number): number {
  const left = Math.max(0, notAfterMs - nowMs);
  return Math.round(Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, left * REFRESH_FRACTION)));
}
