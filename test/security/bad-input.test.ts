import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aToken } from '../helpers/api.js';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { Readable } from 'node:stream';
import { main } from '../../src/cli/index.js';
import { ADMIN_PASSWORD, TEST_ENV } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { assertNoLeak, dumpDatabase } from './inspect.js';

// Every form field, API field, query parameter, path parameter and CLI argument, fed the inputs
// attackers and broken clients send. A refusal is a documented 4xx (CLI: exit 1 or 2 with a one-line
// reason), never a 500, never a stack trace, and leaves the database as it was (see dumpDatabase for
// the tables that legitimately change). Free text (display names) may hold such strings: then they
// are stored exactly as decoded and rendered escaped, never evaluated.

let server: TestServer;
let domain: string;
let mailbox: { address: string; password: string };
let credentialGuid: string;
let superAgent: Agent;
let userAgent: Agent;
let anonAgent: Agent;
let token: string;
let serial = 0;
const unique = () => `${++serial}${Math.random().toString(36).slice(2, 6)}`;

before(async () => {
  // DNS on a loopback port where nothing answers: the webhook added below is never looked up outside.
  server = await startTestServer({ API_RATE_LIMIT: '100000', LOGIN_MAX_ATTEMPTS: '100000', LOGIN_MAX_ATTEMPTS_PER_IP: '100000', DNS_SERVERS: '127.0.0.1:9' });
  domain = (await aDomain(server.services)).name;
  mailbox = await aMailbox(server.services, { domain });
  const { credential } = await server.services.credentials.createCredential({ kind: 'system', name: 'cli' }, await server.services.domains.requireDomain({ kind: 'system', name: 'cli' }, domain), 'Existing');
  credentialGuid = credential.guid!;
  await anAdmin(server.services, { username: 'other-admin', domains: [domain] });
  superAgent = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
  userAgent = await loginAsMailbox(server.url, mailbox.address, mailbox.password);
  anonAgent = request.agent(server.url);
  token = (await aToken(server.services, 'admin')).plaintext;
  // Its first use records last_used_at; later calls within a minute write nothing.
  await request(server.url).get('/api/domains').set('Authorization', `Bearer ${token}`);
});
after(() => server.stop());

type Kind =
  | 'empty'
  | 'too long'
  | 'NUL'
  | 'control characters'
  | 'look-alike'
  | 'SQL injection'
  | 'SQL injection (drop)'
  | 'EJS template'
  | 'JS template'
  | 'mustache template'
  | 'path traversal'
  | 'encoded traversal'
  | 'HTML'
  | 'invalid UTF-8'
  | 'array'
  | 'object';

const KINDS: Kind[] = [
  'empty',
  'too long',
  'NUL',
  'control characters',
  'look-alike',
  'SQL injection',
  'SQL injection (drop)',
  'EJS template',
  'JS template',
  'mustache template',
  'path traversal',
  'encoded traversal',
  'HTML',
  'invalid UTF-8',
  'array',
  'object',
];

/** What a field holds decides which values it may accept. */
type FieldClass = 'address' | 'domain' | 'username' | 'password' | 'optional password' | 'secret' | 'name' | 'optional name' | 'flag' | 'domains' | 'echo';

/** The string a kind stands for, as the server decodes it (a look-alike fits the field's shape). */
function valueOf(kind: Kind, cls: FieldClass): string {
  switch (kind) {
    case 'empty':
      return '';
    case 'too long':
      return 'a'.repeat(5000);
    case 'NUL':
      return 'ab\u0000cd';
    case 'control characters':
      return 'ab\u001b[31m\r\nX-Injected: 1';
    case 'look-alike':
      // A Cyrillic "а" (U+0430) where a Latin "a" belongs.
      return cls === 'address' ? `j\u0430ne@${domain}` : cls === 'domain' || cls === 'domains' ? 'ex\u0430mple.test' : 'j\u0430ne';
    case 'SQL injection':
      return "' OR '1'='1' --";
    case 'SQL injection (drop)':
      return "x'); DROP TABLE accounts; --";
    case 'EJS template':
      return '<%= 7*7 %>';
    case 'JS template':
      return '${7*7}';
    case 'mustache template':
      return '{{7*7}}';
    case 'path traversal':
      return '../../../etc/passwd';
    case 'encoded traversal':
      return '%2e%2e%2f%2e%2e%2fetc%2fpasswd';
    case 'HTML':
      return '"><script>alert(1)</script>';
    case 'invalid UTF-8':
      // Sent as ab%C3%28cd%FF (forms) or those raw bytes (JSON): refused with 400 before any parsing.
      return 'ab\uFFFD(cd\uFFFD';
    case 'array':
    case 'object':
      return '';
  }
}

/** Whether a field of this class accepts this kind of value (then it is stored as decoded). */
function accepts(cls: FieldClass, kind: Kind): boolean {
  if (kind === 'invalid UTF-8') return false;
  const text = !['empty', 'too long', 'NUL', 'control characters', 'array', 'object'].includes(kind);
  switch (cls) {
    case 'echo':
      return true;
    case 'name':
      return text;
    case 'optional name':
      // Empty or absent (a bracketed key is not the field) is no name at all.
      return text || kind === 'empty' || kind === 'object';
    case 'optional password':
      // Empty or absent: a password is generated and shown once.
      return kind === 'empty' || kind === 'object';
    case 'flag':
      // A checkbox: present with any short value means ticked.
      return kind === 'object' || (kind !== 'array' && valueOf(kind, cls).length <= 10);
    default:
      return false;
  }
}

/** A urlencoded body: the valid fields, and `target` carrying the bad value exactly as a client would send it. */
function formBody(valid: Record<string, string>, target: string, kind: Kind, cls: FieldClass): string {
  const parts = Object.entries(valid)
    .filter(([k]) => k !== target)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  if (kind === 'array') parts.push(`${target}=a`, `${target}=b`);
  else if (kind === 'object') parts.push(`${encodeURIComponent(`${target}[x]`)}=1`);
  else if (kind === 'invalid UTF-8') parts.push(`${target}=ab%C3%28cd%FF`);
  else parts.push(`${target}=${encodeURIComponent(valueOf(kind, cls))}`);
  return parts.join('&');
}


/** A page that echoes what was sent shows it escaped: no markup of the sender's survives. */
function assertEscaped(html: string, value: string, context: string) {
  if (/[<>"]/.test(value)) assert.ok(!html.includes(value), `${context}: echoed unescaped`);
  assert.ok(!/>\s*49\s*</.test(html), `${context}: a template expression was evaluated`);
}

const csrfCache = new Map<Agent, string>();
async function csrfFor(agent: Agent, page: string) {
  if (!csrfCache.has(agent)) csrfCache.set(agent, csrfOf((await agent.get(page)).text));
  return csrfCache.get(agent)!;
}

interface Form {
  title: string;
  agent: () => Agent;
  page: string;
  action: () => string;
  valid: () => Record<string, string>;
  fields: Record<string, FieldClass>;
  refused: number[];
  accepted: number[];
  /** Where an accepted field's value is stored. */
  stored?: (field: string, sent: Record<string, string>) => Promise<string | undefined>;
  /** A page that shows what was stored. */
  shownAt?: (sent: Record<string, string>) => string;
}

const M = () => `/admin/domains/${domain}/mailboxes`;
const FORMS: Form[] = [
  {
    title: 'user login',
    agent: () => anonAgent,
    page: '/login',
    action: () => '/login',
    valid: () => ({ email: mailbox.address, password: 'Wrong#Pass-123' }),
    fields: { email: 'address', password: 'secret' },
    refused: [401, 422],
    accepted: [],
  },
  {
    title: 'admin login',
    agent: () => anonAgent,
    page: '/login',
    action: () => '/admin/login',
    valid: () => ({ username: 'admin', password: 'Wrong#Pass-123' }),
    fields: { username: 'username', password: 'secret' },
    refused: [401, 422],
    accepted: [],
  },
  {
    title: 'own password change',
    agent: () => userAgent,
    page: '/account',
    action: () => '/account',
    valid: () => ({ current_password: mailbox.password, new_password: 'Zq8!vNw3#Tk-p', confirm_password: 'Zq8!vNw3#Tk-p' }),
    fields: { current_password: 'secret', new_password: 'password', confirm_password: 'secret' },
    refused: [422],
    accepted: [],
  },
  {
    title: 'new domain',
    agent: () => superAgent,
    page: '/admin/domains',
    action: () => '/admin/domains',
    valid: () => ({ domain: `d${unique()}.test`, unverified: '1' }),
    fields: { domain: 'domain', unverified: 'flag' },
    refused: [422],
    accepted: [303],
  },
  {
    title: 'new mailbox',
    agent: () => superAgent,
    page: '/admin/domains',
    action: M,
    valid: () => ({ address: `box${unique()}`, name: 'Box', password: 'Zq8!vNw3#Tk-p' }),
    fields: { address: 'address', name: 'optional name', password: 'optional password' },
    refused: [422],
    accepted: [201, 303],
    stored: async (field, sent) =>
      field === 'name'
        ? (await server.query<{ name: string }>('SELECT name FROM accounts WHERE login = ?', `${sent.address}@${domain}`))[0]?.name
        : undefined,
    shownAt: (sent) => `${M()}/${sent.address}@${domain}`,
  },
  {
    title: 'mailbox reset by an admin',
    agent: () => superAgent,
    page: '/admin/domains',
    action: () => `${M()}/${mailbox.address}/password`,
    valid: () => ({ password: 'Zq8!vNw3#Tk-p' }),
    fields: { password: 'password' },
    refused: [422],
    accepted: [],
  },
  {
    title: 'Generate button without scripts (the new mailbox form again)',
    agent: () => superAgent,
    page: '/admin/domains',
    action: () => `${M()}/generate`,
    valid: () => ({ address: 'box', name: 'Box' }),
    // It stores nothing: any value is shown back in the form, escaped.
    fields: { address: 'echo', name: 'echo' },
    refused: [],
    accepted: [200],
  },
  {
    title: 'new SMTP credential',
    agent: () => superAgent,
    page: '/admin/domains',
    action: () => `/admin/domains/${domain}/credentials`,
    valid: () => ({ name: 'WordPress' }),
    fields: { name: 'name' },
    refused: [422],
    accepted: [201],
    stored: async () => (await server.query<{ name: string }>("SELECT name FROM accounts WHERE kind = 'credential' ORDER BY id DESC LIMIT 1"))[0]!.name,
    shownAt: () => `/admin/domains/${domain}`,
  },
  {
    title: 'new API token',
    agent: () => superAgent,
    page: '/admin/domains',
    action: () => '/admin/tokens',
    valid: () => ({ name: 'deploy' }),
    fields: { name: 'name' },
    refused: [422],
    accepted: [201],
    stored: async () => (await server.query<{ name: string }>('SELECT name FROM api_tokens ORDER BY id DESC LIMIT 1'))[0]!.name,
    shownAt: () => '/admin/tokens',
  },
  {
    title: 'new webhook',
    agent: () => superAgent,
    page: '/admin/domains',
    action: () => '/admin/webhooks',
    // An https:// URL that would be refused at delivery (DNS finds no such name): never sent.
    valid: () => ({ url: 'https://hooks.example.invalid/mailpass', events: 'mailbox.created', domain }),
    // Every bad value of these is refused, as a domain name's is (an empty domain is every domain's webhook, for a super admin).
    fields: { url: 'domain', events: 'domain' },
    refused: [422],
    accepted: [201],
    stored: async () => (await server.query<{ url: string }>('SELECT url FROM webhooks ORDER BY created_at DESC, id DESC LIMIT 1'))[0]?.url,
    shownAt: () => '/admin/webhooks',
  },
  {
    title: 'new admin',
    agent: () => superAgent,
    page: '/admin/domains',
    action: () => '/admin/admins',
    valid: () => ({ username: `adm${unique()}`, password: 'Zq8!vNw3#Tk-p', domains: domain }),
    fields: { username: 'username', password: 'password', domains: 'domains' },
    refused: [422],
    accepted: [],
  },
];

describe('form fields', () => {
  for (const form of FORMS) {
    test(`${form.title}: every field, every bad value`, async () => {
      const agent = form.agent();
      const csrf = await csrfFor(agent, form.page);
      for (const [field, cls] of Object.entries(form.fields)) {
        for (const kind of KINDS) {
          const context = `${form.title} / ${field} / ${kind}`;
          const valid = form.valid();
          const before = (await dumpDatabase(server));
          const res = await agent.post(form.action()).type('form').send(`${formBody(valid, field, kind, cls)}&_csrf=${encodeURIComponent(csrf)}`);
          assertNoLeak(res.text, context);
          const value = valueOf(kind, cls);
          assertEscaped(res.text, value, context);
          if (accepts(cls, kind)) {
            assert.ok(form.accepted.includes(res.status), `${context}: ${res.status}, expected one of ${form.accepted}`);
            const stored = await form.stored?.(field, valid);
            if (stored !== undefined && kind !== 'object') assert.equal(stored, value, `${context}: not stored as sent`);
            if (form.shownAt && kind !== 'object') assertEscaped((await agent.get(form.shownAt(valid))).text, value, `${context} (shown)`);
          } else {
            const refused = kind === 'invalid UTF-8' ? [400] : form.refused;
            assert.ok(refused.includes(res.status), `${context}: ${res.status}, expected one of ${refused}`);
            assert.equal((await dumpDatabase(server)), before, `${context}: the database changed`);
          }
        }
      }
    });
  }

  test('a form without a CSRF token is refused with 403, whatever it carries', async () => {
    const before = (await dumpDatabase(server));
    for (const kind of KINDS) {
      const res = await superAgent.post('/admin/domains').type('form').send(formBody({ domain: 'x.test' }, '_csrf', kind, 'secret'));
      assert.equal(res.status, kind === 'invalid UTF-8' ? 400 : 403, kind);
      assertNoLeak(res.text, kind);
    }
    assert.equal((await dumpDatabase(server)), before);
  });

  test('a body over 100 kB answers 413 and a form in another encoding 415 or 400, never 500', async () => {
    const before = (await dumpDatabase(server));
    const csrf = await csrfFor(superAgent, '/admin/domains');
    const big = await superAgent.post('/admin/domains').type('form').send(`domain=${'a'.repeat(110 * 1024)}&_csrf=${csrf}`);
    assert.equal(big.status, 413);
    assertNoLeak(big.text, '413');
    const latin1 = await superAgent.post('/admin/domains').set('Content-Type', 'application/x-www-form-urlencoded; charset=latin1').send(`domain=x.test&_csrf=${csrf}`);
    assert.ok([400, 403, 415].includes(latin1.status), String(latin1.status));
    const many = await superAgent.post('/admin/domains').type('form').send(`${Array.from({ length: 500 }, (_, i) => `f${i}=1`).join('&')}&_csrf=${csrf}`);
    assert.ok([403, 413, 422].includes(many.status), String(many.status));
    assert.equal((await dumpDatabase(server)), before);
  });
});

describe('query parameters', () => {
  const QUERIES: Array<{ path: () => string; param: string; ok: number[] }> = [
    { path: () => `/admin/domains/${domain}`, param: 'q', ok: [200, 422] },
    { path: () => `/admin/domains/${domain}`, param: 'page', ok: [200, 422] },
    { path: () => '/admin/domains', param: 'domain', ok: [200, 404] },
    { path: () => '/admin/audit', param: 'page', ok: [200] },
    { path: () => '/login', param: 'updated', ok: [200] },
  ];
  for (const q of QUERIES) {
    test(`${q.path().replace(domain, ':domain')}?${q.param}=…`, async () => {
      const agent = q.path() === '/login' ? anonAgent : superAgent;
      const before = (await dumpDatabase(server));
      for (const kind of KINDS) {
        const res = await agent.get(`${q.path()}?${formBody({}, q.param, kind, 'name')}`);
        assert.ok(q.ok.includes(res.status), `${q.param} / ${kind}: ${res.status}`);
        assertNoLeak(res.text, `${q.param} / ${kind}`);
        assertEscaped(res.text, valueOf(kind, 'name'), `${q.param} / ${kind}`);
      }
      assert.equal((await dumpDatabase(server)), before);
    });
  }
});

/** Bad path segments, as sent on the wire: a client may send dots and percent-encodings as they are. */
const SEGMENTS: Array<[string, string]> = [
  ['path traversal', '..%2f..%2f..%2fetc%2fpasswd'],
  ['encoded dots', '%2e%2e%2f%2e%2e%2f'],
  ['double encoding', '%252e%252e%252f'],
  ['NUL', 'ab%00cd'],
  ['invalid UTF-8', 'ab%C3%28cd'],
  ['lone %FF', '%FF'],
  ['broken escape', '%E0%A4%A'],
  ['look-alike', encodeURIComponent('ex\u0430mple.test')],
  ['SQL injection', encodeURIComponent("' OR '1'='1")],
  ['template', encodeURIComponent('<%= 7*7 %>')],
  ['too long', 'a'.repeat(5000)],
];

describe('path parameters', () => {
  // Each route with a parameter, the parameter replaced by a bad segment; the others stay valid.
  const PANEL: Array<{ method: 'get' | 'post'; path: (p: { domain?: string; address?: string; guid?: string; id?: string }) => string }> = [
    { method: 'get', path: ({ domain: d = domain }) => `/admin/domains/${d}` },
    { method: 'get', path: ({ domain: d = domain }) => `/admin/domains/${d}/mailboxes/new` },
    { method: 'post', path: ({ domain: d = domain }) => `/admin/domains/${d}/mailboxes` },
    { method: 'post', path: ({ domain: d = domain }) => `/admin/domains/${d}/mailboxes/generate` },
    { method: 'get', path: ({ domain: d = domain, address: a = mailbox.address }) => `/admin/domains/${d}/mailboxes/${a}` },
    { method: 'post', path: ({ domain: d = domain, address: a = mailbox.address }) => `/admin/domains/${d}/mailboxes/${a}/password` },
    { method: 'post', path: ({ domain: d = domain, address: a = mailbox.address }) => `/admin/domains/${d}/mailboxes/${a}/generate` },
    { method: 'post', path: ({ domain: d = domain, address: a = mailbox.address }) => `/admin/domains/${d}/mailboxes/${a}/disable` },
    { method: 'post', path: ({ domain: d = domain, address: a = mailbox.address }) => `/admin/domains/${d}/mailboxes/${a}/enable` },
    { method: 'get', path: ({ domain: d = domain, address: a = mailbox.address }) => `/admin/domains/${d}/mailboxes/${a}/delete` },
    { method: 'post', path: ({ domain: d = domain, address: a = mailbox.address }) => `/admin/domains/${d}/mailboxes/${a}/delete` },
    { method: 'get', path: ({ domain: d = domain }) => `/admin/domains/${d}/credentials/new` },
    { method: 'post', path: ({ domain: d = domain }) => `/admin/domains/${d}/credentials` },
    { method: 'get', path: ({ domain: d = domain, guid: g = credentialGuid }) => `/admin/domains/${d}/credentials/${g}/reset` },
    { method: 'post', path: ({ domain: d = domain, guid: g = credentialGuid }) => `/admin/domains/${d}/credentials/${g}/reset` },
    { method: 'get', path: ({ domain: d = domain, guid: g = credentialGuid }) => `/admin/domains/${d}/credentials/${g}/delete` },
    { method: 'post', path: ({ domain: d = domain, guid: g = credentialGuid }) => `/admin/domains/${d}/credentials/${g}/delete` },
    { method: 'post', path: ({ domain: d = domain }) => `/admin/domains/${d}/dkim` },
    { method: 'post', path: ({ domain: d = domain, id = 'none-ed' }) => `/admin/domains/${d}/dkim/${id}/remove` },
    { method: 'get', path: ({ domain: d = domain }) => `/admin/domains/${d}/dns` },
    { method: 'post', path: ({ domain: d = domain }) => `/admin/domains/${d}/dns` },
    { method: 'post', path: ({ id = '1' }) => `/admin/tokens/${id}/revoke` },
    { method: 'get', path: ({ id = 'wh_0' }) => `/admin/webhooks/${id}` },
    { method: 'post', path: ({ id = 'wh_0' }) => `/admin/webhooks/${id}/test` },
    { method: 'post', path: ({ id = 'wh_0' }) => `/admin/webhooks/${id}/resume` },
    { method: 'post', path: ({ id = 'wh_0' }) => `/admin/webhooks/${id}/delete` },
  ];

  test('panel routes: every parameter, every bad segment → 400 or 404, nothing changes', async () => {
    const csrf = await csrfFor(superAgent, '/admin/domains');
    const before = (await dumpDatabase(server));
    for (const route of PANEL) {
      for (const param of ['domain', 'address', 'guid', 'id'] as const) {
        const template = route.path({});
        if (route.path({ [param]: '\u0000' }) === template) continue;
        for (const [label, segment] of SEGMENTS) {
          const url = route.path({ [param]: segment });
          const res = route.method === 'get' ? await superAgent.get(url) : await superAgent.post(url).type('form').send({ _csrf: csrf, password: 'Zq8!vNw3#Tk-p', name: 'x' });
          const context = `${route.method.toUpperCase()} ${template} :${param} = ${label}`;
          // Dots that resolve inside public/ reach a directory there: the static files answer with its
          // trailing-slash redirect (to the same path), which then finds nothing.
          const toDirectory = res.status === 301 && res.headers.location === `${url}/`;
          assert.ok([400, 404].includes(res.status) || toDirectory, `${context}: ${res.status} ${res.headers.location ?? ''}`);
          assertNoLeak(res.text, context);
        }
      }
    }
    assert.equal((await dumpDatabase(server)), before);
  });

  test('API routes: every parameter, every bad segment → 400 or 404 in the JSON error shape, nothing changes', async () => {
    const routes: Array<{ method: 'get' | 'post' | 'put' | 'delete'; path: (p: { domain?: string; address?: string; guid?: string }) => string }> = [
      { method: 'get', path: ({ domain: d = domain }) => `/api/domains/${d}/credentials` },
      { method: 'post', path: ({ domain: d = domain }) => `/api/domains/${d}/credentials` },
      { method: 'put', path: ({ domain: d = domain, guid: g = credentialGuid }) => `/api/domains/${d}/credentials/${g}/reset-password` },
      { method: 'delete', path: ({ domain: d = domain, guid: g = credentialGuid }) => `/api/domains/${d}/credentials/${g}` },
      { method: 'get', path: ({ domain: d = domain }) => `/api/domains/${d}/mailboxes` },
      { method: 'put', path: ({ domain: d = domain, address: a = mailbox.address }) => `/api/domains/${d}/mailboxes/${a}/password` },
    ];
    const before = (await dumpDatabase(server));
    for (const route of routes) {
      for (const param of ['domain', 'address', 'guid'] as const) {
        const template = route.path({});
        if (route.path({ [param]: '\u0000' }) === template) continue;
        for (const [label, segment] of SEGMENTS) {
          const res = await request(server.url)[route.method](route.path({ [param]: segment })).set('Authorization', `Bearer ${token}`).send({ name: 'x', password: 'Zq8!vNw3#Tk-p' });
          const context = `${route.method.toUpperCase()} ${template} :${param} = ${label}`;
          assert.ok([400, 404].includes(res.status), `${context}: ${res.status}`);
          assert.equal(res.body.success, false, context);
          assert.equal(typeof res.body.message, 'string', context);
          assertNoLeak(res.text, context);
        }
      }
    }
    assert.equal((await dumpDatabase(server)), before);
  });
});

describe('API fields', () => {
  const api = (method: 'post' | 'put' | 'get', path: string) => request(server.url)[method](`/api${path}`).set('Authorization', `Bearer ${token}`);

  /** The body's bytes exactly as given (supertest would serialize a Buffer as JSON). */
  async function rawApi(method: string, path: string, body: string | Buffer, headers: Record<string, string>) {
    const res = await fetch(`${server.url}/api${path}`, { method, body: typeof body === 'string' ? body : new Uint8Array(body), headers: { authorization: `Bearer ${token}`, ...headers } });
    const text = await res.text();
    let json: { success?: boolean; message?: string; errors?: Record<string, string[]>; data?: { credential: { name: string } } } = {};
    try {
      json = JSON.parse(text);
    } catch {
      // Checked by the callers: every API answer is JSON.
    }
    return { status: res.status, text, body: json };
  }

  /** A JSON body with `field` holding the bad value; invalid UTF-8 goes out as raw bytes. */
  function jsonBody(field: string, kind: Kind, cls: FieldClass): Buffer {
    if (kind === 'invalid UTF-8') return Buffer.concat([Buffer.from(`{"${field}":"ab`), Buffer.from([0xc3, 0x28]), Buffer.from('cd'), Buffer.from([0xff]), Buffer.from('"}')]);
    const value: unknown = kind === 'array' ? ['a', 'b'] : kind === 'object' ? { $gt: '' } : valueOf(kind, cls);
    return Buffer.from(JSON.stringify({ [field]: value }));
  }

  const FIELDS: Array<{ title: string; method: 'post' | 'put'; path: () => string; field: string; cls: FieldClass; accepted: number }> = [
    { title: 'POST credentials name', method: 'post', path: () => `/domains/${domain}/credentials`, field: 'name', cls: 'name', accepted: 201 },
    { title: 'PUT mailbox password', method: 'put', path: () => `/domains/${domain}/mailboxes/${mailbox.address}/password`, field: 'password', cls: 'password', accepted: 200 },
  ];
  for (const f of FIELDS) {
    test(`${f.title}: every bad value, and other JSON types`, async () => {
      const cases: Array<[string, Buffer, boolean]> = KINDS.map((kind) => [kind, jsonBody(f.field, kind, f.cls), accepts(f.cls, kind)]);
      for (const v of [42, true, null, 1e309]) cases.push([`JSON ${JSON.stringify(v)}`, Buffer.from(`{"${f.field}":${v === 1e309 ? '1e309' : JSON.stringify(v)}}`), false]);
      for (const [label, body, ok] of cases) {
        const before = (await dumpDatabase(server));
        const res = await rawApi(f.method.toUpperCase(), f.path(), body, { 'content-type': 'application/json' });
        const context = `${f.title} / ${label}`;
        assertNoLeak(res.text, context);
        if (ok) {
          assert.equal(res.status, f.accepted, `${context}: ${res.status} ${res.text}`);
          assert.equal(res.body.data!.credential.name, valueOf(label as Kind, f.cls), context);
        } else if (label === 'invalid UTF-8') {
          assert.equal(res.status, 400, `${context}: ${res.status} ${res.text}`);
          assert.equal(res.body.success, false);
          assert.equal((await dumpDatabase(server)), before, `${context}: the database changed`);
        } else {
          assert.equal(res.status, 422, `${context}: ${res.status} ${res.text}`);
          assert.equal(res.body.success, false);
          assert.ok(Array.isArray(res.body.errors?.[f.field]), `${context}: no reason for ${f.field}: ${res.text}`);
          assert.equal((await dumpDatabase(server)), before, `${context}: the database changed`);
        }
      }
    });
  }

  test('malformed JSON → 400, a body over 100 kB → 413, a JSON primitive → 400, another charset → 415', async () => {
    const before = (await dumpDatabase(server));
    const path = `/domains/${domain}/credentials`;
    const expect: Array<[string, string | Buffer, string, number | number[]]> = [
      ['truncated', '{"name": ', 'application/json', 400],
      ['trailing garbage', '{"name": "x"} x', 'application/json', 400],
      ['single quotes', "{'name': 'x'}", 'application/json', 400],
      ['NUL byte', Buffer.from('{"name":\u0000"x"}'), 'application/json', 400],
      ['a string', '"name"', 'application/json', 400],
      ['a number', '42', 'application/json', 400],
      ['null', 'null', 'application/json', 400],
      ['over 100 kB', JSON.stringify({ name: 'x'.repeat(110 * 1024) }), 'application/json', 413],
      ['deeply nested', `${'['.repeat(5000)}${']'.repeat(5000)}`, 'application/json', 422],
      ['latin1 charset', '{"name":"x"}', 'application/json; charset=latin1', 415],
      ['gzip that is not', '{"name":"x"}', 'application/json', [400, 415]],
    ];
    for (const [label, body, type, status] of expect) {
      const res = await rawApi('POST', path, body, { 'content-type': type, ...(label === 'gzip that is not' ? { 'content-encoding': 'gzip' } : {}) });
      assert.ok([status].flat().includes(res.status), `${label}: ${res.status} ${res.text}`);
      assert.equal(res.body.success, false, label);
      assertNoLeak(res.text, label);
    }
    assert.equal((await dumpDatabase(server)), before);
  });

  test('GET mailboxes ?search= and ?page=: 200 or 422, rendered as data', async () => {
    const before = (await dumpDatabase(server));
    for (const param of ['search', 'page']) {
      for (const kind of KINDS) {
        const res = await api('get', `/domains/${domain}/mailboxes?${formBody({}, param, kind, 'name')}`);
        assert.ok([200, 422].includes(res.status), `${param} / ${kind}: ${res.status}`);
        assertNoLeak(res.text, `${param} / ${kind}`);
      }
    }
    assert.equal((await dumpDatabase(server)), before);
  });
});

describe('CLI arguments', () => {
  const BAD = ['', 'a'.repeat(5000), 'ab\u0000cd', 'ab\u001b[31m\r\nmailpass: forged line', 'ex\u0430mple.test', "' OR '1'='1' --", '<%= 7*7 %>', '${7*7}', '../../../etc/passwd', '%2e%2e%2f'];
  /** `mailpass <argv>` in this process, with standard input given as bytes. */
  async function cli(argv: string[], stdin: Buffer) {
    let stdout = '';
    let stderr = '';
    const code = await main(argv, { stdin: Readable.from([stdin]), stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { ...TEST_ENV } });
    return { code, stdout, stderr };
  }

  const cases = (): Array<{ argv: string[]; stdin?: Buffer }> => [
    ...BAD.map((v) => ({ argv: ['domain', 'add', v] })),
    ...BAD.map((v) => ({ argv: ['mailbox', 'add', v, '--generate'] })),
    ...BAD.filter((v) => v.length > 100 || /\p{Cc}/u.test(v)).map((v) => ({ argv: ['mailbox', 'add', `cli${unique()}@${domain}`, '--generate', '--name', v] })),
    ...BAD.map((v) => ({ argv: ['mailbox', 'passwd', v, '--generate'] })),
    ...BAD.map((v) => ({ argv: ['mailbox', 'disable', v] })),
    ...BAD.map((v) => ({ argv: ['mailbox', 'enable', v] })),
    ...BAD.map((v) => ({ argv: ['admin', 'add', v, '--domain', domain, '--generate'] })),
    ...BAD.map((v) => ({ argv: ['admin', 'add', `cli${unique()}`, '--domain', v, '--generate'] })),
    ...BAD.map((v) => ({ argv: ['token', 'add', v, '--name', 'x'] })),
    ...BAD.filter((v) => v === '' || v.length > 100 || /\p{Cc}/u.test(v)).map((v) => ({ argv: ['token', 'add', 'admin', '--name', v] })),
    ...BAD.map((v) => ({ argv: ['credential', 'add', v, '--name', 'x'] })),
    ...BAD.filter((v) => v === '' || v.length > 100 || /\p{Cc}/u.test(v)).map((v) => ({ argv: ['credential', 'add', domain, '--name', v] })),
    ...['', 'a'.repeat(5000), 'Ab1!\u0000xyzQQ', 'Ab1!\u0007xyzQQ'].map((stdin) => ({ argv: ['mailbox', 'passwd', mailbox.address, '--password-stdin'], stdin: Buffer.from(stdin) })),
    // A strong password in Latin-1, not UTF-8: refused rather than stored with U+FFFD in place of "é".
    { argv: ['mailbox', 'passwd', mailbox.address, '--password-stdin'], stdin: Buffer.from('Kv7#pLq2!wZr-\u00e9', 'latin1') },
    { argv: ['restore', '/nonexistent/mailpass-backup.db'] },
    { argv: ['backup', '/nonexistent/dir/backup.db'] },
    // Bad usage: exit 2.
    { argv: ['domain', 'add'] },
    { argv: ['domain', 'add', 'a.test', 'b.test'] },
    { argv: ['domain', 'add', 'a.test', '--bogus'] },
    { argv: ['mailbox', 'add', `x@${domain}`] },
    { argv: ['mailbox', 'add', `x@${domain}`, '--generate', '--password-stdin'] },
    { argv: ['mailbox', 'add', `x@${domain}`, '--generate', '--name'] },
    { argv: ['token', 'add', 'admin', '--name', 'x', '--name', 'y', '--super'] },
    { argv: ['nonsense', '\u001b[31m'] },
  ];

  test('each refusal: exit 1 with one line on stderr (2 with the usage), no stack, nothing stored', async () => {
    for (const { argv, stdin } of cases()) {
      const before = (await dumpDatabase(server));
      const r = await cli([...argv, '--data-dir', server.dataDir], stdin ?? Buffer.alloc(0));
      const context = JSON.stringify(argv).slice(0, 120);
      assert.ok(r.code === 1 || r.code === 2, `${context}: exit ${r.code}; ${r.stderr}`);
      assert.equal(r.stdout, '', `${context}: printed on stdout`);
      assertNoLeak(r.stderr, context);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.match(lines[0] ?? '', /^mailpass: /, context);
      assert.equal(lines.length, r.code === 1 ? 1 : lines.length, `${context}: more than one line: ${JSON.stringify(r.stderr)}`);
      if (r.code === 2) assert.ok(lines.length <= 2 && (lines.length === 1 || /^Usage: /.test(lines[1]!)), `${context}: ${JSON.stringify(r.stderr)}`);
      // Nothing the user typed reaches the terminal as a control sequence.
      assert.doesNotMatch(r.stderr.slice(0, -1), /\p{Cc}(?<!\n)/u, `${context}: control characters echoed: ${JSON.stringify(r.stderr)}`);
      assert.equal((await dumpDatabase(server)), before, `${context}: the database changed`);
    }
  });
});
