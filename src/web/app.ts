import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { csrfSync } from 'csrf-sync';
import compression from 'compression';
import express, { type Express, type RequestHandler } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { MAX_LENGTH, MIN_LENGTH } from '../core/passwords.js';
import type { Logger } from '../core/ports.js';
import type { Services } from '../services.js';
import { loadAssets } from './assets.js';
import { autoconfigRouter } from './handlers/autoconfig.js';
import { healthz, type HealthCheck } from './handlers/health.js';
import { loadActor } from './middleware/auth.js';
import { chooseLanguageFor } from './middleware/language.js';
import { handleErrors, handleLateErrors, markEnding, notFound } from './middleware/errors.js';
import { fixedHeaders } from './middleware/fixed-headers.js';
import { lateCookies } from './middleware/late-cookies.js';
import { loginCsrf } from './middleware/login-csrf.js';
import { requestLog } from './middleware/request-log.js';
import { requireUtf8Form } from './middleware/require-utf8.js';
import { saveBeforeRedirect, ServiceSessionStore } from './middleware/session-store.js';
import { apiRouter } from './api/router.js';
import { webmailRouter } from './api/webmail.js';
import { BODY_LIMIT } from './limits.js';
import { panelRoutes } from './routes.js';
import { renderWith, Views } from './views.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const VIEWS_DIR = path.join(ROOT, 'views');
/** public/ and the browser builds of packages, hashed and compressed by `npm run build` (the tests' runner builds them too). */
const ASSETS_DIR = path.join(ROOT, 'dist', 'assets');
let assets: ReturnType<typeof loadAssets> | null = null;
/** A session's CSRF token: 32 random bytes. */
const CSRF_TOKEN_BYTES = 32;

/**
 * BREACH (a compressed page that holds a secret and reflects what an attacker sends): the CSRF
 * token is written masked with fresh random bytes in every page, so compression never sees the
 * same secret twice; `unmask` gives back the session's token.
 */
export function maskToken(token: string): string {
  const bytes = Buffer.from(token, 'utf8');
  const pad = randomPad(bytes.length);
  for (let i = 0; i < bytes.length; i++) bytes[i]! ^= pad[i]!;
  return `${pad.toString('base64url')}.${bytes.toString('base64url')}`;
}

/**
 * `n` fresh random bytes, each used once, from 8 KiB drawn at a time: a call into the system's
 * generator for every page's 64 bytes was a hundredth of a page's CPU (issue 36.1), as Node's own
 * randomUUID draws ahead for the same reason.
 */
const PAD_POOL = 8192;
let pool = Buffer.alloc(0);
let used = 0;
function randomPad(n: number): Buffer {
  if (n > PAD_POOL) return randomBytes(n);
  if (used + n > pool.length) {
    pool = randomBytes(PAD_POOL);
    used = 0;
  }
  return pool.subarray(used, (used += n));
}

export function unmaskToken(masked: unknown): string | undefined {
  if (typeof masked !== 'string') return undefined;
  const [a, b, extra] = masked.split('.');
  if (a === undefined || b === undefined || extra !== undefined) return undefined;
  const pad = Buffer.from(a, 'base64url');
  const xored = Buffer.from(b, 'base64url');
  if (pad.length === 0 || pad.length !== xored.length) return undefined;
  return Buffer.from(xored.map((x, i) => x ^ pad[i]!)).toString('utf8');
}

export interface AppDeps {
  services: Services;
  log: Logger;
  /** Extra readiness checks for /healthz, e.g. that the SMTP listeners accept. */
  healthChecks?: readonly HealthCheck[];
  /** Routers mounted before the panel, such as the JSON API and /metrics. */
  mounts?: ReadonlyArray<{ path: string; handler: RequestHandler | express.Router }>;
  observeRequest?: (method: string, route: string, status: number, seconds: number) => void;
}

/** Builds the web app over the services; it never listens (main.ts and the tests do). */
export async function createApp({ services: svc, log, healthChecks = [], mounts = [], observeRequest }: AppDeps): Promise<Express> {
  const { config, clock } = svc;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  // Pages render through our own path (views.ts): compiled once, their data never copied, sent
  // compressed in one piece without an ETag.
  renderWith(app, new Views(VIEWS_DIR));
  app.locals.productName = 'mailpass';
  // SPEC §16: `Forgot password?` only where a link can be mailed.
  app.locals.forgotPassword = svc.recovery.available;
  // SPEC §18: `Log in with <OIDC_NAME>` on /admin/login, and on /login with OIDC_USERS.
  app.locals.sso = svc.sso ? { name: svc.sso.name, users: svc.sso.users } : null;
  assets ??= loadAssets(ASSETS_DIR);
  app.locals.asset = assets.url;
  // SPEC §3's lengths, for the policy as each language words it.
  app.locals.policy = { minLength: MIN_LENGTH, maxLength: MAX_LENGTH };

  app.use(requestLog(log, observeRequest));
  app.use(
    // helmet's headers, worked out once (they depend on no request).
    fixedHeaders(
      helmet({
        contentSecurityPolicy: {
          directives: {
            defaultSrc: ["'self'"],
            scriptSrc: ["'self'"],
            styleSrc: ["'self'"],
            imgSrc: ["'self'", 'data:'],
            // SPEC §18: logging out posts to the panel, which sends the browser on to the issuer's
            // logout; browsers hold a form's redirects to form-action too.
            formAction: config.oidc ? ["'self'", new URL(config.oidc.issuer).origin] : ["'self'"],
            frameAncestors: ["'none'"],
            objectSrc: ["'none'"],
            baseUri: ["'none'"],
            upgradeInsecureRequests: null,
          },
        },
        // Behind plain HTTP on loopback, HSTS would only confuse; a TLS proxy sets it.
        strictTransportSecurity: false,
        // No referrer leaves the panel (a reset link's token is in its path), but its own form posts
        // keep their Origin: under `no-referrer` browsers send `Origin: null`, and over plain HTTP on
        // a host name, where no Sec-Fetch-Site is sent either, the login's same-site check refused
        // every login.
        referrerPolicy: { policy: 'same-origin' },
      }),
    ),
  );
  app.use('/assets', assets.handler);
  app.get('/healthz', healthz(svc.database.ping, healthChecks));
  // API answers compressed as they are made (brotli quality 4, gzip); pages by their render path
  // (views.ts); static files were at build time. BREACH: pages mask their CSRF token (above); the
  // API is called by scripts with a bearer token, never with credentials a browser adds to a
  // request someone else chose.
  app.use('/api', compression());
  app.use('/api/webmail', webmailRouter(svc, log.child({ component: 'webmail' })));
  app.use('/api', apiRouter(svc, log.child({ component: 'api' })));
  app.use(autoconfigRouter(svc));
  for (const m of mounts) app.use(m.path, m.handler);
  // SPEC §17: the panel's pages speak the chosen language; the API above stays English (a contract).
  const language = chooseLanguageFor(svc);
  app.use(language);

  const secret = await svc.sessions.cookieSecret();
  const idleSeconds = config.session.idleMinutes * 60;
  app.use(markEnding);
  app.use(lateCookies);
  app.use(
    session({
      name: 'mailpass.sid',
      secret,
      store: new ServiceSessionStore(svc.sessions, clock),
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: idleSeconds * 1000, path: '/' },
    }),
  );
  app.use(saveBeforeRedirect);
  app.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 100, verify: requireUtf8Form }));

  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    // 32 random bytes (256 bits) as 64 hex digits. csrf-sync's default of 128 bytes made each page's
    // masked token 685 characters of random text, which no compression shrinks (issue 36.1).
    size: CSRF_TOKEN_BYTES,
    getTokenFromRequest: (req) => unmaskToken(req.body?._csrf ?? req.headers['x-csrf-token']),
  });
  const login = loginCsrf(secret, { maskToken, unmaskToken, now: () => clock.now() });
  app.use(login.protect(csrfSynchronisedProtection));
  app.use(loadActor(svc));
  app.use((req, res, next) => (res.locals.savedLanguage ? language(req, res, next) : next()));
  app.use((req, res, next) => {
    // Made when a page renders a form, not before: a GET that shows none writes no session, and
    // a login page shown to a visitor without a session writes none either (its token checks itself).
    // One masked token a page, however many forms it has (the logout button, the language selector,
    // the page's own): masked afresh in every response, which is what BREACH needs.
    let token: string | undefined;
    res.locals.csrfToken = () => (token ??= login.anonymousLoginForm(req) ? login.pageToken() : maskToken(generateToken(req)));
    res.locals.currentPath = req.path;
    res.locals.currentUrl = req.originalUrl;
    res.locals.errors = {};
    next();
  });

  app.use(panelRoutes(svc));
  app.use(notFound);
  app.use(handleErrors(log));
  app.use(handleLateErrors(log));
  return app;
}
