import type { Request, Response } from 'express';
import { queueCookie } from './middleware/late-cookies.js';

const KNOWN_COOKIE = 'mp_known';
const KNOWN_DAYS = 30;
const COOKIE = new RegExp(`(?:^|;\\s*)${KNOWN_COOKIE}=([0-9A-Za-z_.-]{1,120})(?:;|$)`);

/**
 * The known-browser mark (SPEC §4.1; the logins use case makes and checks it): after a successful
 * login the browser gets `mp_known`, scoped to the login page's path, so user and admin logins keep
 * one each. Such a browser is held by a login limit of its own, so strangers cannot lock it out.
 */
export const browserMarkOf = (req: Request): string | null => COOKIE.exec(req.headers.cookie ?? '')?.[1] ?? null;

/** `path`: the login page the mark belongs to (the request's own path by default). */
export function setBrowserMark(req: Request, res: Response, mark: string, path = req.path) {
  const attributes = [`Max-Age=${KNOWN_DAYS * 86_400}`, `Path=${path}`, 'HttpOnly', 'SameSite=Lax', ...(req.secure ? ['Secure'] : [])];
  queueCookie(res, [`${KNOWN_COOKIE}=${mark}`, ...attributes].join('; '));
}
