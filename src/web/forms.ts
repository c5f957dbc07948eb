import type { Response } from 'express';
import { z } from 'zod';
import { ValidationError, type FieldErrors } from '../core/errors.js';

// Form fields arrive as strings; an array or object (a repeated or bracketed name) is refused here.
const field = (max: number) => z.string({ error: 'Must be text.' }).max(max, `Must be at most ${max} characters.`);
const optionalField = (max: number) => field(max).optional();
// Longer than any acceptable password, so that the policy, not the form, names the reason.
const secret = field(1024);

export const LoginForm = z.object({ email: field(320), password: secret });
export const AdminLoginForm = z.object({ username: field(64), password: secret });
export const ChangePasswordForm = z.object({ current_password: secret, new_password: secret, confirm_password: secret });
export const ResetPasswordForm = z.object({ password: secret });
export const NewMailboxForm = z.object({ address: field(320), name: optionalField(100), password: z.string().max(1024).optional() });
export const NewDomainForm = z.object({ domain: field(253), unverified: optionalField(10) });
export const SearchQuery = z.object({ q: optionalField(320), page: optionalField(10) });
export const NameForm = z.object({ name: field(100) });
/** SPEC §18: a token's name and scope. */
export const TokenForm = z.object({
  name: field(100),
  read_only: optionalField(10),
  domains: z.union([field(253), z.array(field(253)).max(1000)]).optional(),
  expires_days: optionalField(10),
  allow_ips: optionalField(2000),
});
export const WebhookForm = z.object({
  url: field(2000),
  events: z.union([field(64), z.array(field(64)).max(50)]).optional(),
  domain: optionalField(253),
});
export const NewAdminForm = z.object({
  username: field(64),
  password: secret,
  super: optionalField(10),
  domains: z.union([field(253), z.array(field(253)).max(1000)]).optional(),
});

export const CodeForm = z.object({ code: field(64) });
export const EditAdminForm = z.object({
  super: optionalField(10),
  domains: z.union([field(253), z.array(field(253)).max(1000)]).optional(),
});

/** Parses a form or throws a ValidationError that the error handler renders beside the fields. */
export function parseForm<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const fields: FieldErrors = {};
  for (const issue of parsed.error.issues) {
    const name = String(issue.path[0] ?? 'form');
    // A missing field is reported as required, whatever zod calls it.
    const message = issue.code === 'invalid_type' && issue.input === undefined ? 'Is required.' : issue.message;
    (fields[name] ??= []).push(message);
  }
  throw new ValidationError(fields);
}

const SECRET_FIELD = /password|_csrf/;

/**
 * Declares which view shows this form, so that a ValidationError or ConflictError from the core
 * re-renders it (422) with the reasons and the submitted values, never the passwords.
 */
export function formView(res: Response, view: string, locals: Record<string, unknown>, body: unknown = {}) {
  const values: Record<string, string> = {};
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string' && !SECRET_FIELD.test(k)) values[k] = v;
  }
  res.locals.form = { view, locals, values };
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      form?: { view: string; locals: Record<string, unknown>; values: Record<string, string> };
    }
  }
}
