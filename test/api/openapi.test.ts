import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Router } from 'express';
import request from 'supertest';
import { apiRouter } from '../../src/web/api/router.js';
import { openApiDocument } from '../../src/web/api/openapi.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { silentLog } from '../helpers/env.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());

/** Every (method, path) that the API router really serves, read from the router itself. */
function servedRoutes(router: Router): string[] {
  const out: string[] = [];
  for (const layer of (router as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }).stack) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) out.push(`${method} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
  }
  return out.sort();
}

test('/api/openapi.json is an OpenAPI 3.1 document served without a token', async () => {
  const res = await request(server.url).get('/api/openapi.json');
  assert.equal(res.status, 200);
  assert.equal(res.body.openapi, '3.1.0');
});

test('every route the API router serves is in the document, and nothing else', () => {
  const doc = openApiDocument(60);
  const documented = Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k)).map((m) => `${m} ${path}`))
    .sort();
  const served = servedRoutes(apiRouter(server.services, silentLog)).filter((r) => r !== 'get /openapi.json');
  assert.ok(served.length >= 7);
  assert.deepEqual(documented, served);
});

test('every example response validates against its schema', () => {
  const doc = openApiDocument(60);
  const ajv = new Ajv2020({ strict: false });
  addFormats.default(ajv);
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(schema, `#/components/schemas/${name}`);
  let checked = 0;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const responses = (op as { responses?: Record<string, { content?: Record<string, { schema: object; example?: unknown }> }> }).responses;
      for (const [status, response] of Object.entries(responses ?? {})) {
        const media = response.content?.['application/json'];
        if (!media || media.example === undefined) continue;
        const validate = ajv.compile({ ...media.schema, components: doc.components });
        assert.ok(validate(media.example), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 30, `checked ${checked}`);
});

test('a live reset response validates against the documented schema', async () => {
  const { aToken, apiClient } = await import('../helpers/api.js');
  const { aDomain } = await import('../helpers/builders.js');
  const domain = await aDomain(server.services);
  const api = apiClient(server.url, (await aToken(server.services, 'admin')).plaintext);
  const created = await api.post(`/domains/${domain.name}/credentials`, { name: 'Schema' });
  const reset = await api.put(`/domains/${domain.name}/credentials/${created.body.data.credential.guid}/reset-password`);
  const doc = openApiDocument(60);
  const ajv = new Ajv2020({ strict: false });
  addFormats.default(ajv);
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(schema, `#/components/schemas/${name}`);
  const validate = ajv.getSchema('#/components/schemas/CredentialSecret')!;
  assert.ok(validate(created.body), ajv.errorsText(validate.errors));
  assert.ok(validate(reset.body), ajv.errorsText(validate.errors));
});

test('SPEC §18: the document describes token scopes, and every operation its 403', () => {
  const doc = openApiDocument(60);
  assert.match(doc.components.securitySchemes.bearer.description, /read-only[^]*domains[^]*expiry[^]*client addresses/);
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, { responses?: Record<string, { content?: Record<string, { example?: { message?: string }; examples?: Record<string, { value: { message: string } }> }> }> }>)) {
      if (!op.responses) continue;
      const forbidden = op.responses['403']?.content?.['application/json'];
      const messages = [forbidden?.example?.message, ...Object.values(forbidden?.examples ?? {}).map((e) => e.value.message)];
      assert.ok(messages.includes('Token scope does not allow this'), `${method} ${path}`);
    }
  }
});

test('SPEC §19: `webhooks` documents every event; each example, and what the product really sends for each, validates', async () => {
  const { WEBHOOK_EVENTS, TEST_EVENT, eventOf, payloadOf } = await import('../../src/core/webhook-events.js');
  const { webhookBodySchema } = await import('../../src/web/api/openapi-webhooks.js');
  const doc = openApiDocument(60);
  assert.deepEqual(Object.keys(doc.webhooks).sort(), [...WEBHOOK_EVENTS, TEST_EVENT].sort());
  const ajv = new Ajv2020({ strict: false });
  addFormats.default(ajv);
  for (const [type, item] of Object.entries(doc.webhooks)) {
    const media = item.post.requestBody.content['application/json'];
    const validate = ajv.compile(media.schema);
    assert.ok(validate(media.example), `${type}: ${ajv.errorsText(validate.errors)}`);
    assert.deepEqual(item.post.parameters.map((p: { name: string }) => p.name), ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
  }
  // The payloads of the audit actions that tell webhooks, as the core makes them.
  const made = [
    eventOf('mailbox.create', 'admin:alice', 'jane@example.com', '192.0.2.1', null, 1_700_000_000),
    eventOf('password.change', 'mailbox:jane@example.com', 'jane@example.com', null, 'webmail', 1),
    eventOf('password.reset', 'admin:alice (api)', 'jane@example.com', null, null, 1),
    eventOf('password.recover', 'forgot:jane@example.com', 'jane@example.com', null, 'reset link sent to x@y.test', 1),
    eventOf('mailbox.disable', 'cli', 'jane@example.com', null, null, 1),
    eventOf('mailbox.delete', 'cli', 'jane@example.com', null, null, 1),
    eventOf('credential.create', 'admin:alice', 'wp-x7k2@example.com', null, 'WordPress', 1),
    eventOf('credential.reset', 'admin:alice', 'wp-x7k2@example.com', null, null, 1),
    eventOf('credential.delete', 'admin:alice', 'wp-x7k2@example.com', null, null, 1),
    eventOf('app-password.create', 'mailbox:jane@example.com', 'jane@example.com', null, 'Phone', 1),
    eventOf('second-factor.add', 'mailbox:jane@example.com', 'jane@example.com', null, 'passkey', 1),
    eventOf('second-factor.remove', 'admin:alice', 'bob', null, 'admin', 1),
    eventOf('login.failure-limited', 'smtp:jane@example.com', 'jane@example.com', '203.0.113.7', 'smtp', 1),
    eventOf('admin-login.failure-limited', 'admin:alice', 'alice', '203.0.113.7', 'web', 1),
    eventOf('send-limit.reached', 'smtp', 'jane@example.com', '203.0.113.7', 'hour: 100 recipients', 1),
    eventOf('relay.failed', 'smtp', 'jane@example.com', '203.0.113.7', '451 4.3.0 try later', 1),
  ];
  assert.equal(eventOf('password.change', 'admin:alice', 'alice', null, null, 1), undefined, "an admin's own password is not a mailbox's");
  assert.equal(eventOf('mailbox.enable', 'cli', 'jane@example.com', null, null, 1), undefined);
  assert.deepEqual([...new Set(made.map((e) => e!.type))].sort(), [...WEBHOOK_EVENTS].sort(), 'every event type is made by some change');
  for (const e of [...made, { type: TEST_EVENT, payload: payloadOf(TEST_EVENT, 1, { webhook: 'wh_1' }) }]) {
    const validate = ajv.compile(webhookBodySchema(e!.type as never));
    assert.ok(validate(JSON.parse(e!.payload)), `${e!.type}: ${ajv.errorsText(validate.errors)} in ${e!.payload}`);
  }
});
