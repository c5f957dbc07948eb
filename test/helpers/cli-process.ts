import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { storeEnvOf, TEST_ENV } from './env.js';

const ENTRY = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

/** Runs the CLI in a separate process, as an operator would next to the running server. */
export function runCliProcess(argv: string[], stdin = '', env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...argv], { env: { ...process.env, ...TEST_ENV, ...storeEnvOf(argv, env), ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
