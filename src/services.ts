import type { Config } from './config.js';
import { createAdminService } from './core/admins.js';
import { createAudit } from './core/audit.js';
import { createAuthCache } from './core/auth-cache.js';
import { createAuthService } from './core/auth.js';
import { createCredentialService } from './core/credentials.js';
import { createDomainService } from './core/domains.js';
import { createAccountEvents } from './core/events.js';
import { createArgon2Hasher, type HashObserver } from './core/hasher.js';
import { createLoginBatcher } from './core/login-batcher.js';
import { createMailboxService } from './core/mailboxes.js';
import { createPasswordRules } from './core/password-rules.js';
import { createStrengthEstimator } from './core/strength.js';
import { createTokenService } from './core/tokens.js';
import { systemClock, type AccountEvents, type Clock, type Logger, type Store } from './core/ports.js';

export interface ServiceDeps {
  config: Config;
  store: Store;
  log: Logger;
  clock?: Clock;
  events?: AccountEvents;
  observeHash?: HashObserver;
  onAuthVerify?: (result: 'hit' | 'miss') => void;
}

/** Builds every core service over one store: the web panel, the SMTP server and the CLI share them. */
export function createServices({ config, store, log, clock = systemClock, events = createAccountEvents(), observeHash, onAuthVerify }: ServiceDeps) {
  const hasher = createArgon2Hasher(config.argon2, undefined, observeHash);
  const audit = createAudit({ store, clock, log: log.child({ component: 'audit' }) });
  const estimator = createStrengthEstimator();
  const rules = createPasswordRules({ hasher, minScore: config.minPasswordScore, estimator });
  const batcher = createLoginBatcher({ store, log: log.child({ component: 'login-batcher' }) });
  const cache = createAuthCache(config.authCache);
  const domains = createDomainService({ store, clock, audit });
  const writeDeps = { store, hasher, clock, events };
  return {
    config,
    store,
    clock,
    events,
    hasher,
    audit,
    rules,
    estimator,
    batcher,
    domains,
    auth: createAuthService({ store, hasher, clock, batcher, cache, onVerify: onAuthVerify }),
    mailboxes: createMailboxService({ ...writeDeps, audit, domains, rules }),
    admins: createAdminService({ store, hasher, clock, audit, rules }),
    credentials: createCredentialService({ ...writeDeps, audit, domains, rules }),
    tokens: createTokenService({ store, clock, audit }),
  };
}

export type Services = ReturnType<typeof createServices>;
