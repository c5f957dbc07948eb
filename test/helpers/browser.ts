import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** Debian's chromium: the tests never download a browser. CI installs it when it is missing. */
export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/**
 * One browser per test file; close it in `after`. A missing chromium fails the file, it is not
 * skipped. `hosts`: names the browser resolves to 127.0.0.1 (the panel on a host name, not on loopback's).
 */
export async function launchBrowser({ hosts = [] }: { hosts?: readonly string[] } = {}): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package to run the browser tests`);
  const rules = hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ');
  return chromium.launch({ executablePath: CHROMIUM, args: rules ? [...ARGS, `--host-resolver-rules=${rules}`] : ARGS });
}

const DOCUMENT_STATUS = /^Failed to load resource: the server responded with a status of 4\d\d /;

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

export interface Journey {
  context: BrowserContext;
  page: Page;
  /** Console errors and warnings (a CSP violation is one) and uncaught page errors, in order. */
  problems: string[];
  close(): Promise<void>;
}

/** A fresh browser context (its own cookies, as another person or device) with one page. */
export async function newJourney(browser: Browser, baseURL: string, options: BrowserContextOptions = {}): Promise<Journey> {
  const context = await browser.newContext({ baseURL, viewport: DESKTOP, ...options });
  // Generous: the suite runs two files at once beside private Postfix and Dovecot instances on two cores.
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    // The browser's own line about a document answered with an error status: a 401 login or a
    // 422 form is the expected answer there, not a fault of the page. Subresources still count.
    if (DOCUMENT_STATUS.test(msg.text()) && msg.location().url === page.url()) return;
    problems.push(`${msg.type()}: ${msg.text()} (${msg.location().url || page.url()})`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message} (${page.url()})`));
  // A wait for a page that never comes (seen once a few runs, on PostgreSQL under the full suite's
  // load) says where the browser is, what the page says and the last navigations it made.
  const trail: string[] = [];
  page.on('response', (r) => {
    if (!r.request().isNavigationRequest()) return;
    trail.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
    if (trail.length > 8) trail.shift();
  });
  const waitForURL = page.waitForURL.bind(page);
  page.waitForURL = (async (...args: Parameters<Page['waitForURL']>) => {
    try {
      return await waitForURL(...args);
    } catch (err) {
      const says = await page.locator('h1, [role=alert], .field-errors').allInnerTexts().catch(() => [] as string[]);
      throw new Error(`${(err as Error).message.split('\n')[0]} at ${page.url()}; the page says ${JSON.stringify(says)}; navigations: ${trail.join(' | ')}`, { cause: err });
    }
  }) as Page['waitForURL'];
  return { context, page, problems, close: () => context.close() };
}

/** Logs in through the login form, as a person does. */
export async function logInAsMailbox(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/account');
}

/** Logs in through the admin login form, as a person does. */
export async function logInAsAdmin(page: Page, username: string, password: string) {
  await page.goto('/admin/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/admin/domains');
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Makes axe-core available on every page of the context. Init scripts go through the DevTools
 * protocol, which the page's CSP does not govern: the pages keep their CSP.
 */
export function withAxe(context: BrowserContext) {
  return context.addInitScript({ content: AXE_SOURCE });
}

/**
 * The serious and critical axe-core violations of the page as it is now (its context went
 * through `withAxe`, or the script is evaluated here, again outside the CSP).
 * `colorContrast: false` skips the costliest rule, e.g. for a second pass at another width.
 */
export async function seriousAxeViolations(page: Page, { colorContrast = true } = {}): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (colorContrast) => {
    const axe = (globalThis as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'], rules: { 'color-contrast': { enabled: colorContrast } } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  }, colorContrast);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Whether the page is wider than its viewport, i.e. the reader must scroll sideways. */
export function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);
}


/**
 * Gives the context a logged-in session without going through the form: for journeys whose
 * subject is not the login. It posts the form over HTTP, as the supertest helpers do.
 */
export async function addSession(context: BrowserContext, baseURL: string, kind: 'mailbox' | 'admin', login: string, password: string) {
  const path = kind === 'admin' ? '/admin/login' : '/login';
  const page = await fetch(baseURL + path);
  const cookie = cookieOf(page);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const fields: Record<string, string> = kind === 'admin' ? { username: login, password } : { email: login, password };
  const res = await fetch(baseURL + path, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, _csrf: csrf }),
  });
  assert.equal(res.status, 303, `${kind} login of ${login}`);
  const [name, value] = cookieOf(res).split('=') as [string, string];
  await context.addCookies([{ name, value, url: baseURL, httpOnly: true, sameSite: 'Lax' }]);
}

const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0]!;

/**
 * Focusable elements of the page that show no focus ring when focused from the keyboard.
 * One Tab press puts the page in keyboard modality, where programmatic focus matches
 * :focus-visible too, so that every element can be checked in one pass.
 */
export async function elementsWithoutFocusRing(page: Page): Promise<string[]> {
  await page.keyboard.press('Tab');
  return page.evaluate(() => {
    const selector = 'a[href], button:not([disabled]), input:not([type="hidden"]):not([disabled]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
    const missing: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
      if (el.getClientRects().length === 0) continue;
      el.focus();
      const name = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.textContent ?? '').trim().slice(0, 30)}"`;
      if (document.activeElement !== el) {
        missing.push(`${name} cannot take the focus`);
        continue;
      }
      const style = getComputedStyle(el);
      if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) < 2) missing.push(name);
    }
    (document.activeElement as HTMLElement | null)?.blur();
    return missing;
  });
}

/**
 * What every page must be: free of CSP reports and script errors, without serious or critical
 * axe-core violations, with a visible focus on everything focusable, and readable at 375 px
 * without scrolling sideways.
 */
export async function checkPage(j: Journey, name: string, open: (page: Page) => Promise<unknown>) {
  const { page } = j;
  const seen = j.problems.length;
  await page.setViewportSize(DESKTOP);
  await open(page);
  await page.waitForLoadState('load');
  assert.deepEqual(j.problems.slice(seen), [], `${name}: console`);
  assert.deepEqual(await seriousAxeViolations(page), [], `${name}: axe at ${DESKTOP.width} px`);
  assert.deepEqual(await elementsWithoutFocusRing(page), [], `${name}: focus ring`);
  await page.setViewportSize(PHONE);
  assert.equal(await overflowsHorizontally(page), false, `${name}: scrolls sideways at ${PHONE.width} px`);
  // The colours do not change with the width; what does (layout, target sizes) is checked again.
  assert.deepEqual(await seriousAxeViolations(page, { colorContrast: false }), [], `${name}: axe at ${PHONE.width} px`);
  assert.deepEqual(j.problems.slice(seen), [], `${name}: console`);
}
