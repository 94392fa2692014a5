// `sluice <command> [flags]`: finds the command, runs it, turns errors into a message and an exit status.
import { CliError } from './api-client.ts';
import { COMMANDS } from './commands.ts';
import type { CliIo } from './io.ts';

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)}   ${entry.summary}`);
  return [
    'sluice: the command line of the Sluice service mesh',
    '',
    'Usage: sluice <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    'Every command takes --api HOST:PORT (default: SLUICE_API_ADDR, else 127.0.0.1:8085) and -h for its help.',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    io.stderr(`Error: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`Error: ${error.message}\n`);
      return error.exitCode;
    }
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`Error: ${(error as Error).message}\nRun 'sluice ${name} --help' for usage.\n`);
      return 2;
    }
    throw error;
  }
}
