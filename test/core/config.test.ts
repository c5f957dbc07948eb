import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

test('defaults match SPEC §1', () => {
  const c = loadConfig({}, '/srv/mp');
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.smtpPort, 2587);
  assert.equal(c.smtpsPort, 2465);
  assert.equal(c.smtpHost, '127.0.0.1');
  assert.equal(c.dbFile, '/srv/mp/data/mailpass.db');
  assert.deepEqual(c.argon2, { memoryKib: 19456, timeCost: 2, parallelism: 1 });
  assert.equal(c.minPasswordScore, 2);
  assert.equal(c.apiRateLimit, 60);
  assert.equal(c.smtp.maxFailures, 10);
  assert.equal(c.smtp.windowSeconds, 900);
  assert.equal(c.smtp.maxMessageBytes, 25 * 1024 * 1024);
  assert.ok(Object.isFrozen(c));
});

test('SMTP_HOST defaults to HOST', () => {
  assert.equal(loadConfig({ HOST: '127.0.0.2' }).smtpHost, '127.0.0.2');
  assert.equal(loadConfig({ HOST: '127.0.0.2', SMTP_HOST: '127.0.0.3' }).smtpHost, '127.0.0.3');
});

for (const [name, value] of [
  ['PORT', 'eighty'],
  ['PORT', '70000'],
  ['ARGON2_MEMORY_KIB', '-5'],
  ['MIN_PASSWORD_SCORE', '5'],
  ['LOG_LEVEL', 'loud'],
  ['SMTP_REVERSE_DNS', 'maybe'],
  ['DNS_SERVERS', 'dns.example.net'],
  ['DNS_SERVERS', '127.0.0.1:70000'],
  ['DNS_SERVERS', '[10.0.0.1]:53'],
  ['PUBLIC_SMTP_HOST', 'mail example'],
  ['WEBMAIL_CLIENTS', 'webmail.example.net'],
  ['WEBMAIL_CLIENTS', '10.0.0.0/33'],
  ['WEBMAIL_CLIENTS', '10.0.0.1/8/8'],
  ['RESET_LINK_MINUTES', '0'],
] as const) {
  test(`a bad ${name} (${value}) is refused with one message naming it`, () => {
    assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.message.startsWith(`${name}:`), err.message);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });
}

test('TLS_CERT_FILE without TLS_KEY_FILE is refused', () => {
  assert.throws(() => loadConfig({ TLS_CERT_FILE: 'c.pem' }), /TLS_KEY_FILE/);
});

test('DNS_SERVERS: addresses with optional ports, IPv6 in brackets; unset, the system\'s resolvers', () => {
  assert.deepEqual(loadConfig({ DNS_SERVERS: '127.0.0.1:5353, ::1 ,[::1]:5300' }).dnsServers, ['127.0.0.1:5353', '::1', '[::1]:5300']);
  assert.deepEqual(loadConfig({}).dnsServers, []);
});

test('SPEC §16: WEBMAIL_CLIENTS takes addresses and networks of both families; unset, nobody; RESET_LINK_MINUTES defaults to 30', () => {
  assert.deepEqual(loadConfig({ WEBMAIL_CLIENTS: '10.0.0.5, 192.168.0.0/16,::1, fd00::/8' }).webmailClients, ['10.0.0.5', '192.168.0.0/16', '::1', 'fd00::/8']);
  assert.deepEqual(loadConfig({}).webmailClients, []);
  assert.equal(loadConfig({}).resetLinkMinutes, 30);
});

test('issue 29: a plain start tells mail clients the ports it listens on; PUBLIC_SMTP_PORT and PUBLIC_SMTPS_PORT override', () => {
  const plain = loadConfig({});
  assert.deepEqual([plain.clients.submissionPort, plain.clients.submissionsPort], [plain.smtpPort, plain.smtpsPort]);
  assert.deepEqual([plain.clients.submissionPort, plain.clients.submissionsPort], [2587, 2465]);
  const moved = loadConfig({ SMTP_PORT: '10025', SMTPS_PORT: '0' });
  assert.deepEqual([moved.clients.submissionPort, moved.clients.submissionsPort], [10025, 0], 'a listener turned off is not named');
  const forwarded = loadConfig({ PUBLIC_SMTP_PORT: '587', PUBLIC_SMTPS_PORT: '465' });
  assert.deepEqual([forwarded.clients.submissionPort, forwarded.clients.submissionsPort, forwarded.smtpPort], [587, 465, 2587]);
});

test('SPEC §18: OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together; the issuer is https:// but on loopback', () => {
  assert.equal(loadConfig({}).oidc, null);
  const on = loadConfig({ OIDC_ISSUER: 'https://id.example.com/realms/mail', OIDC_CLIENT_ID: 'mailpass', OIDC_CLIENT_SECRET: 's3cret' }).oidc!;
  assert.deepEqual(
    { name: on.name, claim: on.adminClaim, users: on.users, trust: on.trustMfa, tolerance: on.clockToleranceSeconds, groups: [on.superAdminGroup, on.domainAdminGroupPrefix] },
    { name: 'SSO', claim: 'preferred_username', users: false, trust: false, tolerance: 30, groups: [null, null] },
  );
  assert.throws(() => loadConfig({ OIDC_ISSUER: 'https://id.example.com' }), (err: unknown) => err instanceof ConfigError && /OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET/.test(err.message));
  assert.throws(
    () => loadConfig({ OIDC_ISSUER: 'http://id.example.com', OIDC_CLIENT_ID: 'm', OIDC_CLIENT_SECRET: 's' }),
    (err: unknown) => err instanceof ConfigError && /^OIDC_ISSUER: must be an https:\/\/ URL/.test(err.message),
  );
  assert.equal(loadConfig({ OIDC_ISSUER: 'http://127.0.0.1:9000', OIDC_CLIENT_ID: 'm', OIDC_CLIENT_SECRET: 's' }).oidc!.issuer, 'http://127.0.0.1:9000');
});
