import { Readable } from 'node:stream';
import { main } from '../../src/cli/index.js';
import type { Env } from '../../src/config.js';
import { storeEnvOf, TEST_ENV } from './env.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process, as `mailpass <argv>`, with the given standard input. */
export async function runCli(argv: string[], { stdin = '', env = {} }: { stdin?: string; env?: Env } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { ...TEST_ENV, ...storeEnvOf(argv, env), ...env },
  });
  return { code, stdout, stderr };
}
