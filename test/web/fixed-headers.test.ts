import assert from 'node:assert/strict';
import { test } from 'node:test';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { fixedHeaders } from '../../src/web/middleware/fixed-headers.js';

// Issue 36.1: helmet's headers are worked out once. Every header helmet sets must come out the
// same, and a middleware that needs more than a response's headers must fail at start.
const withHeaders = async (middleware: RequestHandler) => {
  const app = express();
  app.disable('x-powered-by');
  app.use(middleware);
  app.get('/', (_req, res) => void res.type('text/plain').send('ok'));
  const { headers } = await request(app).get('/');
  const { date: _date, ...rest } = headers;
  return rest;
};

test('the headers of helmet itself, set once', async () => {
  const options = { contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], frameAncestors: ["'none'"] } }, strictTransportSecurity: false, referrerPolicy: { policy: 'same-origin' as const } };
  const direct = await withHeaders(helmet(options));
  assert.ok(direct['content-security-policy'] && direct['x-frame-options'] && direct['cross-origin-opener-policy']);
  assert.deepEqual(await withHeaders(fixedHeaders(helmet(options))), direct);
});

test('a middleware that does more than set headers fails at start', () => {
  assert.throws(() => fixedHeaders((_req, res, next) => {
    res.cookie('x', 'y');
    next();
  }));
  assert.throws(() => fixedHeaders((_req, _res, next) => next(new Error('refused'))), /refused/);
  assert.throws(() => fixedHeaders(() => {}), /did not call next/);
});
