import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { storeEnvOf, TEST_ENV } from '../helpers/env.js';
import { freePort } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// SMTP_PORT=0 turns a listener off, so a test that needs one picks a real port.
export { freePort };

export interface ChildServer {
  proc: ChildProcess;
  url: string;
  httpPort: number;
  smtpPort: number;
  /** Everything the child wrote on stderr so far. */
  stderr(): string;
  /** SIGKILL, as a crash or a power cut of the process would end it; resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * `mailpass serve` as an operator runs it (`node --import tsx src/main.ts`) on `dataDir`, with cheap
 * argon2 parameters; resolves once its JSON log says the web panel listens. SMTP runs on a free
 * STARTTLS port when `smtp` is set (implicit TLS stays off).
 */
export async function startChild(dataDir: string, { smtp = false, env = {} }: { smtp?: boolean; env?: Record<string, string> } = {}): Promise<ChildServer> {
  const smtpPort = smtp ? await freePort() : 0;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_ENV, DATA_DIR: dataDir, ...storeEnvOf([], { DATA_DIR: dataDir }), PORT: '0', SMTP_PORT: String(smtpPort), SMTPS_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const httpPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "web panel listening" line within 30 s; stderr: ${stderr}`)), 30_000);
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening; stderr: ${stderr}`)));
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as { msg?: string; port?: number };
        if (line.msg === 'web panel listening') {
          clearTimeout(timer);
          resolve(line.port!);
        }
      } catch {
        // Not a log line (e.g. the initial admin password line).
      }
    });
  });
  return {
    proc,
    url: `http://127.0.0.1:${httpPort}`,
    httpPort,
    smtpPort,
    stderr: () => stderr,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await gone;
    },
  };
}
