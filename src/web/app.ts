import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { csrfSync } from 'csrf-sync';
import express, { type Express, type RequestHandler } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import type { Logger } from '../core/ports.js';
import type { Services } from '../services.js';
import { autoconfigRouter } from './handlers/autoconfig.js';
import { healthz, type HealthCheck } from './handlers/health.js';
import { loadActor } from './middleware/auth.js';
import { handleErrors, notFound } from './middleware/errors.js';
import { lateCookies } from './middleware/late-cookies.js';
import { requestLog } from './middleware/request-log.js';
import { requireUtf8Form } from './middleware/require-utf8.js';
import { saveBeforeRedirect, ServiceSessionStore } from './middleware/session-store.js';
import { apiRouter } from './api/router.js';
import { BODY_LIMIT } from './limits.js';
import { panelRoutes } from './routes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const VIEWS_DIR = path.join(ROOT, 'views');
export const PUBLIC_DIR = path.join(ROOT, 'public');

/** Browser builds of the strength estimator the server scores with, for the strength meter of public/app.js. */
const requireHere = createRequire(import.meta.url);
const VENDOR_DIRS = [
  ...['core', 'language-common', 'language-en'].map((name) => ({
    url: `/vendor/zxcvbn-ts/${name}`,
    dir: path.dirname(requireHere.resolve(`@zxcvbn-ts/${name}/dist/zxcvbn-ts.js`)),
  })),
  // The browser half of WebAuthn for passkeys (public/passkeys.js), from the package's own bundle.
  { url: '/vendor/simplewebauthn', dir: path.join(path.dirname(requireHere.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle') },
];

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
  app.set('views', VIEWS_DIR);
  app.set('view engine', 'ejs');
  app.locals.productName = 'mailpass';

  app.use(requestLog(log, observeRequest));
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          upgradeInsecureRequests: null,
        },
      },
      // Behind plain HTTP on loopback, HSTS would only confuse; a TLS proxy sets it.
      strictTransportSecurity: false,
    }),
  );
  app.use(express.static(PUBLIC_DIR, { index: false, maxAge: '1h' }));
  for (const v of VENDOR_DIRS) app.use(v.url, express.static(v.dir, { index: false, maxAge: '1h' }));
  app.get('/healthz', healthz(svc.database.ping, healthChecks));
  app.use('/api', apiRouter(svc, log.child({ component: 'api' })));
  app.use(autoconfigRouter(svc));
  for (const m of mounts) app.use(m.path, m.handler);

  const secret = await svc.sessions.cookieSecret();
  const idleSeconds = config.session.idleMinutes * 60;
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
    getTokenFromRequest: (req) => (req.body?._csrf as string | undefined) ?? (req.headers['x-csrf-token'] as string | undefined),
  });
  app.use(csrfSynchronisedProtection);
  app.use(loadActor(svc));
  app.use((req, res, next) => {
    // Made when a page renders a form, not before: a GET that shows none writes no session.
    res.locals.csrfToken = () => generateToken(req);
    res.locals.currentPath = req.path;
    res.locals.errors = {};
    next();
  });

  app.use(panelRoutes(svc));
  app.use(notFound);
  app.use(handleErrors(log));
  return app;
}
