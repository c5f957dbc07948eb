import type { RequestHandler } from 'express';

/** Readiness of parts that live outside the web app, such as the SMTP listeners. */
export type HealthCheck = () => boolean;

/** SPEC §7: 200 while the database answers and every listener accepts; 503 otherwise. */
export const healthz = (ping: () => Promise<void>, checks: readonly HealthCheck[]): RequestHandler => async (_req, res) => {
  res.set('Cache-Control', 'no-store');
  const dbOk = await ping().then(() => true, () => false);
  const failing = checks.filter((check) => !check()).length;
  if (dbOk && failing === 0) return res.json({ status: 'ok' });
  res.status(503).json({ status: 'unavailable', database: dbOk ? 'ok' : 'failing', listeners: failing === 0 ? 'ok' : 'failing' });
};
