import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { startDownstream } from '../helpers/downstream.js';
import { csrfOf, postForm, startTestServer, type TestServer } from '../helpers/server.js';

// SPEC §17: the language of a page is, in order, the owner's saved choice, the `lang` cookie the
// footer's selector sets, Accept-Language, then DEFAULT_LANGUAGE; `<html lang>` names it.

const htmlLang = (html: string) => /<html lang="([^"]+)">/.exec(html)?.[1];

/** Logs in with a browser that prefers `acceptLanguage`, and returns the agent. */
async function loginIn(url: string, acceptLanguage: string, email: string, password: string) {
  const agent = request.agent(url);
  const page = await agent.get('/login').set('Accept-Language', acceptLanguage);
  const res = await agent.post('/login').set('Accept-Language', acceptLanguage).type('form').send({ email, password, _csrf: csrfOf(page.text) });
  assert.equal(res.status, 303);
  return agent;
}

describe('the language of a page', () => {
  let server: TestServer;
  let domain: string;
  before(async () => {
    server = await startTestServer();
    domain = (await aDomain(server.services)).name;
  });
  after(() => server.stop());

  test("a French browser gets the login page in French, with SPEC §17's labels", async () => {
    const res = await request(server.url).get('/login').set('Accept-Language', 'fr-FR,fr;q=0.9,en;q=0.5');
    assert.equal(res.status, 200);
    assert.equal(htmlLang(res.text), 'fr');
    assert.match(res.text, /<label for="email">Adresse e-mail<\/label>/);
    assert.match(res.text, /<label for="password">Mot de passe<\/label>/);
    assert.match(res.text, /<button type="submit">Se connecter<\/button>/);
    assert.equal(res.headers['content-language'], 'fr');
    assert.match(String(res.headers.vary), /Accept-Language/);
    // The footer's selector, a plain form: every language named in itself, this one chosen.
    assert.match(res.text, /<form method="get" action="\/language" class="language">/);
    assert.match(res.text, /<option value="fr" lang="fr" selected>Français<\/option>/);
    assert.match(res.text, /<option value="pl" lang="pl">Polski<\/option>/);
  });

  test('the API stays English whatever the browser asks: no Content-Language, no translated message', async () => {
    const res = await request(server.url).get('/api/domains').set('Accept-Language', 'fr').set('Cookie', 'lang=de');
    assert.equal(res.status, 401);
    assert.equal(res.headers['content-language'], undefined);
    assert.doesNotMatch(String(res.headers.vary ?? ''), /Accept-Language/);
    assert.match(JSON.stringify(res.body), /^[\x20-\x7e]*$/, 'English, ASCII');
  });

  test('Accept-Language picks among the eight by quality and by region; anything else is English', async () => {
    const langOf = async (header?: string) => {
      const req = request(server.url).get('/login');
      return htmlLang((await (header ? req.set('Accept-Language', header) : req)).text);
    };
    assert.equal(await langOf(), 'en');
    assert.equal(await langOf('de-AT'), 'de');
    assert.equal(await langOf('ja, nl;q=0.8, fr;q=0.5'), 'nl');
    assert.equal(await langOf('pt-BR,pt;q=0.9'), 'pt-BR');
    assert.equal(await langOf('es-419'), 'es');
    assert.equal(await langOf('ja, zh;q=0.5'), 'en');
  });

  test('the selector sets the lang cookie, which beats Accept-Language; a bad choice changes nothing', async () => {
    const agent = request.agent(server.url);
    const chosen = await agent.get('/language?lang=it&next=/login').set('Accept-Language', 'fr');
    assert.equal(chosen.status, 303);
    assert.equal(chosen.headers.location, '/login');
    const cookie = String(chosen.headers['set-cookie']);
    assert.match(cookie, /^lang=it;/);
    assert.match(cookie, /HttpOnly/);
    const page = await agent.get('/login').set('Accept-Language', 'fr');
    assert.equal(htmlLang(page.text), 'it');
    assert.match(page.text, /<button type="submit">Accedi<\/button>/);

    const unknown = await agent.get('/language?lang=xx&next=/login');
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /Unknown language/);
    assert.equal(unknown.headers['set-cookie'], undefined);
    // `next` is a path of this panel, never another site.
    for (const next of ['//evil.example/', '/\\evil.example', 'https://evil.example/']) {
      assert.equal((await agent.get(`/language?lang=de&next=${encodeURIComponent(next)}`)).headers.location, '/');
    }
  });

  test("a signed-in owner's choice is saved: it beats the cookie and the browser on any device", async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginIn(server.url, 'fr', box.address, box.password);
    const account = await agent.get('/account').set('Accept-Language', 'fr');
    assert.equal(htmlLang(account.text), 'fr');
    // Signed in, the footer's form is a POST with the page's CSRF token.
    assert.match(account.text, /<form method="post" action="\/language" class="language">/);
    const refused = await agent.post('/language').type('form').send({ lang: 'de', next: '/account' });
    assert.equal(refused.status, 403, 'no CSRF token: refused');
    assert.equal((await server.adapters.stores.accounts.findAccountByLogin(box.address))?.language ?? null, null);
    const saved = await agent.post('/language').type('form').send({ lang: 'de', next: '/account', _csrf: csrfOf(account.text) });
    assert.equal(saved.status, 303);
    assert.equal((await server.adapters.stores.accounts.findAccountByLogin(box.address))?.language, 'de');

    // Another browser, French and with an Italian cookie, still shows this owner German once signed in.
    const elsewhere = await loginIn(server.url, 'fr', box.address, box.password);
    const page = await elsewhere.get('/account').set('Accept-Language', 'fr').set('Cookie', 'lang=it');
    assert.equal(htmlLang(page.text), 'de');
    assert.match(page.text, /<h1>Ihr Konto<\/h1>/);
  });

  test('a refused change says why in French: the upper-case rule contains "majuscule"', async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginIn(server.url, 'fr', box.address, box.password);
    const page = await agent.get('/account').set('Accept-Language', 'fr');
    const before = (await server.adapters.stores.accounts.findAccountByLogin(box.address))!.passwordHash;
    const res = await agent
      .post('/account')
      .set('Accept-Language', 'fr')
      .type('form')
      .send({ current_password: box.password, new_password: 'lowercase-only-47!', confirm_password: 'lowercase-only-47!', _csrf: csrfOf(page.text) });
    assert.equal(res.status, 422);
    assert.match(res.text, /<li>Doit contenir une majuscule\.<\/li>/);
    assert.match(res.text, /<summary>Règles du mot de passe<\/summary>/);
    assert.equal((await server.adapters.stores.accounts.findAccountByLogin(box.address))!.passwordHash, before, 'a refused change changes nothing');
  });

  test('a German page writes dates the German way; an English one keeps ISO 8601', async () => {
    const box = await aMailbox(server.services, { domain });
    const de = await loginIn(server.url, 'de', box.address, box.password);
    await server.adapters.batcher.flush();
    const page = await de.get('/account').set('Accept-Language', 'de');
    const when = /<td data-label="Zuletzt"><time class="nowrap" datetime="[^"]+">([^<]+)<\/time>/.exec(page.text)?.[1];
    assert.ok(when, 'the login history lists the login just made');
    assert.match(when, /^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} UTC$/);
    const en = await loginIn(server.url, 'en', box.address, box.password);
    const english = await en.get('/account').set('Accept-Language', 'en');
    assert.match(english.text, /<td data-label="Last seen"><time class="nowrap" datetime="[^"]+">\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC<\/time>/);
  });
});

describe('DEFAULT_LANGUAGE, and the owner language of alert mails', () => {
  let down: Awaited<ReturnType<typeof startDownstream>>;
  let server: TestServer;
  let domain: string;
  before(async () => {
    down = await startDownstream();
    server = await startTestServer({ DEFAULT_LANGUAGE: 'es', RELAY_URL: `smtp://127.0.0.1:${down.port}`, RELAY_TIMEOUT_SECONDS: '2' });
    domain = (await aDomain(server.services)).name;
  });
  after(async () => {
    await server.stop();
    await down.stop();
  });

  test('without a choice, a cookie or a browser language, pages are in DEFAULT_LANGUAGE', async () => {
    const page = await request(server.url).get('/login');
    assert.equal(htmlLang(page.text), 'es');
    assert.match(page.text, /<button type="submit">Iniciar sesión<\/button>/);
  });

  test("an alert mail is in the language its owner chose, its subject RFC 2047-encoded", async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginIn(server.url, 'pl', box.address, box.password);
    const account = await agent.get('/account').set('Accept-Language', 'pl');
    assert.equal(htmlLang(account.text), 'pl');
    assert.equal((await postForm(agent, '/account', '/language', { lang: 'pl', next: '/account' })).status, 303);
    const next = 'Zmienione-Haslo-2026!';
    const res = await postForm(agent, '/account', '/account', { current_password: box.password, new_password: next, confirm_password: next });
    assert.equal(res.status, 303);
    await server.services.alerts.settled();
    const mail = down.received.find((m) => m.to.includes(box.address));
    assert.ok(mail, 'the alert went through the relay');
    const subject = /^Subject: (.*(?:\r\n .*)*)$/m.exec(mail.data)![1]!;
    assert.match(subject, /^=\?UTF-8\?B\?/);
    const decoded = subject.split(/\r\n /).map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)![1]!, 'base64').toString('utf8')).join('');
    assert.equal(decoded, 'Twoje hasło zostało zmienione');
    assert.match(mail.data, /Hasło .* zostało zmienione/);
    assert.ok(!mail.data.includes(next));
  });
});
