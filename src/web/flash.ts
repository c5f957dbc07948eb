import type { Request } from 'express';

/** A message for the page after a post/redirect/get, kept in the session until shown once. */
export function setFlash(req: Request, type: 'success' | 'error', text: string) {
  req.session.flash = { type, text };
}

export function takeFlash(req: Request) {
  const flash = req.session?.flash ?? null;
  if (flash) delete req.session.flash;
  return flash;
}
