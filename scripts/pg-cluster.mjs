// A private PostgreSQL cluster for tests and benchmarks: initdb and pg_ctl in a temp dir, on a free
// loopback port, never the system service. PostgreSQL refuses to run as root: as root, the
// cluster runs as the `postgres` user that Debian's package creates.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The directory of initdb and pg_ctl: on PATH, or where Debian puts them (newest version first). */
export function findPgBin() {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return null;
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Starts a cluster; returns its superuser URL (a database name is appended) and stop(). */
export async function startCluster() {
  const bin = findPgBin();
  if (!bin) return null;
  const root = process.getuid?.() === 0;
  const owner = root ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : null;
  const ownerGid = root ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-pg-'));
  if (root) chownSync(dir, owner, ownerGid);
  const as = (cmd, args, opts = {}) => {
    const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]] : [path.join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: 'utf8', ...opts });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' ')}`);
    return r;
  };
  const data = path.join(dir, 'data');
  as('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  // Loopback only, a socket in the temp dir, no fsync (test data), logs into the temp dir.
  writeFileSync(
    path.join(dir, 'extra.conf'),
    [`listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dir}'`, 'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'max_connections = 300', ''].join('\n'),
  );
  if (root) chownSync(path.join(dir, 'extra.conf'), owner, ownerGid);
  execFileSync('sh', ['-c', `echo "include '${path.join(dir, 'extra.conf')}'" >> '${path.join(data, 'postgresql.conf')}'`]);
  as('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return { url: `postgres://postgres@127.0.0.1:${port}`, port, bin, stop };
}

/** Creates an empty database on the cluster at `url` (synchronously: test configs are made synchronously). */
export function createDatabase(url, name) {
  const { port } = new URL(url);
  const bin = findPgBin();
  const createdb = existsSync(path.join(bin, 'createdb')) ? path.join(bin, 'createdb') : 'createdb';
  const r = spawnSync(createdb, ['-h', '127.0.0.1', '-p', port, '-U', 'postgres', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`createdb ${name} failed: ${(r.stderr || '').trim()}`);
  return `${url}/${name}`;
}
