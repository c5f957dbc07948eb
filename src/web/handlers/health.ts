import type { RequestHandler } from 'express';
import type { Store } from '../../core/ports.js';

/** Readiness of parts that live outside the web app, such as the SMTP listeners. */
export type HealthCheck = () => boolean;

/** SPEC §7: 200 while the database answers and every listener accepts; 503 otherwise. */
export const healthz = (store: Store, checks: readonly HealthCheck[]): RequestHandler => async (_req, res) => {
  res.set('Cache-Control', 'no-store');
  const dbOk = await store.ping().then(() => true, () => false);
  const failing = checks.filter((check) => !check()).length;
  if (dbOk && failing === 0) return res.json({ status: 'ok' });
  res.status(503).json({ status: 'unavailable', database: dbOk ? 'ok' : 'failing', listeners: failing === 0 ? 'ok' : 'failing' });
};
