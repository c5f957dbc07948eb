import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createArgon2Hasher } from '../src/adapters/argon2-hasher.js';
import { openDatabase } from '../src/store/sqlite/db.js';

/** The thread pool's size as `mailpass serve` sets it (bin/threadpool.js): the server here is an ES module entry, too late to set it itself. */
const { threadPoolSize } = createRequire(import.meta.url)('../bin/threadpool.js') as { threadPoolSize: () => string };

/** The argon2 parameters of this environment (ARGON2_*), which the server process inherits. */
export const argon2Params = () => loadConfig({ ARGON2_MEMORY_KIB: process.env.ARGON2_MEMORY_KIB, ARGON2_TIME_COST: process.env.ARGON2_TIME_COST, ARGON2_PARALLELISM: process.env.ARGON2_PARALLELISM }).argon2;

/**
 * Mailboxes straight into a new database in `dataDir`, all sharing one hash made with the
 * server's argon2 parameters (hashing 100,000 passwords would take half an hour). With
 * `adminPassword`, the first admin too, as a server that has been started before has it: the
 * first start's check of INITIAL_ADMIN_PASSWORD starts the strength worker, which then holds
 * 35-95 MiB until 30 s after its last check, and no traffic of a benchmark changes a password.
 */
export async function seedMailboxes(
  dataDir: string,
  { domain, count, password, localPart, adminPassword }: { domain: string; count: number; password: string; localPart: (i: number) => string; adminPassword?: string },
) {
  const hasher = createArgon2Hasher(argon2Params());
  const hash = await hasher.hash(password);
  const db = openDatabase(path.join(dataDir, 'mailpass.db'));
  const now = Math.floor(Date.now() / 1000);
  const { id } = db.prepare('INSERT INTO domains (name, verified, created_at) VALUES (?, 1, ?) RETURNING id').get(domain, now) as { id: number };
  const insert = db.prepare(`INSERT INTO accounts (kind, domain_id, login, local_part, name, password_hash, created_at, updated_at)
    VALUES ('mailbox', ?, ?, ?, '', ?, ?, ?)`);
  const adminHash = adminPassword === undefined ? null : await hasher.hash(adminPassword);
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(id, `${localPart(i)}@${domain}`, localPart(i), hash, now, now);
    if (adminHash) db.prepare("INSERT INTO admins (username, password_hash, is_super, must_change_password, created_at, updated_at) VALUES ('admin', ?, 1, 0, ?, ?)").run(adminHash, now, now);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return hash;
}

export interface ServerProcess {
  ports: { http: number; smtp: number; smtps: number };
  /** The server's process id (with `cpus` too: taskset execs the server in its own process). */
  pid: number;
  /**
   * Asks the server over IPC: `reset-eld` (start a new event-loop delay histogram), `stats`, or
   * `raw-argon2` (verifications a second of `hash` for `seconds`, in the server's process).
   */
  ask<T>(cmd: 'reset-eld' | 'stats' | 'raw-argon2', args?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * The server from the build (bench/server.mjs) in a child process on `dataDir`, with `env` over
 * quiet defaults; with `cpus` (a taskset list such as "0" or "0,1"), only on those processors.
 */
export async function startServerProcess(dataDir: string, env: Record<string, string>, { cpus }: { cpus?: string } = {}): Promise<ServerProcess> {
  // BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops (for bench/profile-summary.ts).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // WORKERS=N: a cluster primary (bench/server-primary.mjs) with N workers, as `mailpass serve` runs.
  // BENCH_SERVER=floor: bench/floor-server.mjs, the runtime's part of the same traffic alone.
  const script = process.env.BENCH_SERVER === 'floor' ? './floor-server.mjs' : Number(env.WORKERS ?? 1) > 1 ? './server-primary.mjs' : './server.mjs';
  // BENCH_SERVER_FLAGS: node's and V8's options for the server alone (e.g. --heap-growing-percent=50).
  const flags = process.env.BENCH_SERVER_FLAGS ? process.env.BENCH_SERVER_FLAGS.split(' ') : [];
  const node = [process.execPath, ...flags, ...profile, fileURLToPath(new URL(script, import.meta.url))];
  const [command, ...args] = cpus ? ['taskset', '-c', cpus, ...node] : node;
  const child = spawn(command!, args, {
    env: { ...process.env, UV_THREADPOOL_SIZE: threadPoolSize(), DATA_DIR: dataDir, LOG_LEVEL: 'silent', SMTP_HOSTNAME: 'mail.test', ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ports = await new Promise<ServerProcess['ports']>((resolve, reject) => {
    child.once('message', (msg: ServerProcess['ports']) => resolve(msg));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    ports,
    pid: child.pid!,
    ask: <T>(cmd: string, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve) => {
        const on = (msg: { cmd: string }) => {
          if (msg.cmd === cmd) {
            child.off('message', on);
            resolve(msg as T);
          }
        };
        child.on('message', on);
        child.send({ ...args, cmd });
      }),
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ cmd: 'stop' });
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
