import request from 'supertest';
import type { Env } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import type { Logger } from '../../src/core/ports.js';
import type { Db } from '../../src/store/sqlite/db.js';
import type pg from 'pg';
import { createPool } from '../../src/store/postgres/db.js';
import { silentLog, tempDataDir, testConfig } from './env.js';

export interface TestServer extends Omit<RunningServer, 'db'> {
  /** The SQLite connection; only the SQLite-only files (scripts/run-tests.mjs lists them) use it. */
  db: Db;
  /** Rows of a query on the server's database, SQLite or PostgreSQL alike (`?` placeholders). */
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  url: string;
  dataDir: string;
  /** Closes the server and removes its data directory. */
  stop(): Promise<void>;
}

/** The real server (web, and SMTP when its ports are set) on 127.0.0.1:0 over a temp SQLite file. Call `stop()` in `after`. */
export async function startTestServer(env: Env = {}, { smtp = false, log = silentLog }: { smtp?: boolean; log?: Logger } = {}): Promise<TestServer> {
  const { dir, cleanup } = tempDataDir();
  const config = testConfig(dir, env);
  const running = await startServer(config, { log, print: () => {}, smtpBind: smtp ? { smtp: 0, smtps: 0 } : { smtp: null, smtps: null } });
  let pool: pg.Pool | null = null;
  const query = async <T>(sql: string, ...params: unknown[]): Promise<T[]> => {
    if (running.db) {
      const statement = running.db.prepare(sql);
      return statement.reader ? (statement.all(...params) as T[]) : (statement.run(...params), []);
    }
    pool ??= createPool(config.database!.url, 2);
    let n = 0;
    return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
  };
  const stop = async () => {
    await pool?.end();
    await running.close();
    cleanup();
  };
  return { ...running, db: running.db as Db, query, url: `http://127.0.0.1:${running.httpPort}`, dataDir: dir, stop };
}

/** The CSRF token of the form on a page. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
}

export type Agent = ReturnType<typeof request.agent>;

/** A browser-like agent: GET the form, POST it with its CSRF token. */
export async function postForm(agent: Agent, formPage: string, action: string, fields: Record<string, string | string[]>) {
  const page = await agent.get(formPage);
  return agent.post(action).type('form').send({ ...fields, _csrf: csrfOf(page.text) });
}

export async function loginAsMailbox(url: string, email: string, password: string): Promise<Agent> {
  const agent = request.agent(url);
  const res = await postForm(agent, '/login', '/login', { email, password });
  if (res.status !== 303 || res.headers.location !== '/account') throw new Error(`mailbox login failed: ${res.status}`);
  return agent;
}

export async function loginAsAdmin(url: string, username: string, password: string): Promise<Agent> {
  const agent = request.agent(url);
  const res = await postForm(agent, '/admin/login', '/admin/login', { username, password });
  if (res.status !== 303) throw new Error(`admin login failed: ${res.status}`);
  return agent;
}

/** The session id inside an agent's signed cookie (s:<id>.<signature>). */
export function sessionIdOf(agent: Agent): string {
  const jar = (agent as unknown as { jar: { getCookie(name: string, access: object): { value: string } | undefined } }).jar;
  const value = decodeURIComponent(jar.getCookie('mailpass.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false })!.value);
  return value.slice(2, value.lastIndexOf('.'));
}
