// Shared by the backend and peer servers: `--port N` (and other `--name value` pairs) from argv.
export function flag(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v !== undefined) return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`missing --${name}`);
}

export function portFlag(name = 'port'): number {
  const port = Number(flag(name));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad --${name}`);
  return port;
}

/** Exit cleanly on SIGTERM/SIGINT (the orchestrator stops us by PID). */
export function exitOnSignals(close: () => void): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      close();
      setTimeout(() => process.exit(0), 200).unref();
    });
  }
}
