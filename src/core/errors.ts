/** The one error vocabulary of mailpass: the core throws these, each edge translates them. */
export abstract class AppError extends Error {
  abstract readonly code: string;
}

export type FieldErrors = Record<string, string[]>;

/** Input that breaks a rule; `fields` names each field with every reason it failed. */
export class ValidationError extends AppError {
  readonly code = 'validation-failed';
  constructor(
    readonly fields: FieldErrors,
    options?: ErrorOptions,
  ) {
    super(Object.entries(fields).map(([f, r]) => `${f}: ${r.join('; ')}`).join(' | '), options);
  }
}

export class NotFoundError extends AppError {
  constructor(
    readonly code: 'domain-not-found' | 'mailbox-not-found' | 'credential-not-found' | 'admin-not-found' | 'token-not-found' | 'dkim-not-found' | 'link-not-found' | 'webhook-not-found',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class ConflictError extends AppError {
  constructor(
    readonly code: 'login-taken' | 'domain-exists' | 'admin-exists' | 'domain-not-verified' | 'last-super-admin' | 'conflict',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The actor may not touch this object although it can see that it exists (API 403). */
export class ForbiddenError extends AppError {
  constructor(
    readonly code: 'credential-wrong-domain' | 'forbidden',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class AuthError extends AppError {
  readonly code = 'bad-credentials';
  constructor(message = 'Invalid credentials', options?: ErrorOptions) {
    super(message, options);
  }
}

export class RateLimitedError extends AppError {
  readonly code = 'rate-limited';
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many attempts. Please try again later.',
  ) {
    super(message);
  }
}

/** The store cannot answer now (locked, read-only, disk full); the request may be retried. */
export class UnavailableError extends AppError {
  readonly code = 'store-unavailable';
  constructor(message = 'Service temporarily unavailable.', options?: ErrorOptions) {
    super(message, options);
  }
}
