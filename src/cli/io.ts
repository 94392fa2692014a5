// What a command may touch: its environment and its two output streams (tests capture them).

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** All of stdin (`sluice inject -`); tests pass their own, the process reads its real stdin. */
  readStdin?: () => Promise<string>;
}

export function processIo(): CliIo {
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}
