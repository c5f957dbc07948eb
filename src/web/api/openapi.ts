/** The OpenAPI 3.1 document of the REST API (SPEC §5), served at /api/openapi.json. */
import { webhooksDocument } from './openapi-webhooks.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullableInt = { type: ['integer', 'null'] };
const nullableString = { type: ['string', 'null'] };

const credentialExample = {
  id: 1,
  guid: '92703823-f3a4-48e2-8e87-7adf25454800',
  name: 'WordPress',
  username: 'wordpress-x7k2@example.com',
  created_at: 1640995200,
  updated_at: 1640995200,
  last_connection_at: null,
  last_connection_ip: null,
};

const strengthExample = {
  score: 4,
  length: 20,
  has_uppercase: true,
  has_lowercase: true,
  has_digit: true,
  has_special: true,
  meets_policy: true,
};

const mailboxExample = {
  id: 7,
  address: 'jane@example.com',
  name: 'Jane Doe',
  disabled: false,
  created_at: 1640995200,
  updated_at: 1641081600,
  last_connection_at: 1641081000,
  last_connection_ip: '192.0.2.10',
};

const loginExample = { protocol: 'smtp', mechanism: 'PLAIN', result: 'ok', ip: '203.0.113.7', first_at: 1640995200, last_at: 1641038400, count: 14 };

/** The success envelope `{success: true, [message], data}` around a response's data. */
const success = (withMessage: boolean, data: object) => ({
  type: 'object',
  required: withMessage ? ['success', 'message', 'data'] : ['success', 'data'],
  properties: { success: { const: true }, ...(withMessage ? { message: { type: 'string' } } : {}), data },
});

const limitValues = (description: string) => ({
  type: 'object',
  description,
  required: ['per_hour', 'per_day', 'max_recipients'],
  properties: {
    per_hour: { type: ['integer', 'null'], minimum: 0, maximum: 100_000_000, description: 'Recipients in the last 60 minutes' },
    per_day: { type: ['integer', 'null'], minimum: 0, maximum: 100_000_000, description: 'Recipients in the last 24 hours' },
    max_recipients: { type: ['integer', 'null'], minimum: 0, maximum: 100_000_000, description: 'Recipients of one message' },
  },
});
const limitsExample = {
  limits: { per_hour: 100, per_day: null, max_recipients: null },
  effective: { per_hour: 100, per_day: 10000, max_recipients: 100 },
  sent: { last_hour: 12, last_day: 240 },
};

const schemas = {
  Error: {
    type: 'object',
    required: ['success', 'message'],
    properties: {
      success: { const: false },
      message: { type: 'string' },
      errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    },
  },
  /** SPEC §15. */
  SendLimits: limitValues('Limits as set on this level: null inherits the level above (domain, then the installation); 0 is no limit'),
  Limits: success(false, {
    type: 'object',
    required: ['limits', 'effective', 'sent'],
    properties: {
      limits: ref('SendLimits'),
      effective: { ...limitValues('The values that apply (0: no limit)'), properties: { per_hour: { type: 'integer' }, per_day: { type: 'integer' }, max_recipients: { type: 'integer' } } },
      sent: {
        type: 'object',
        description: 'Recipients of accepted messages (for a domain: of all its logins together)',
        required: ['last_hour', 'last_day'],
        properties: { last_hour: { type: 'integer' }, last_day: { type: 'integer' } },
      },
    },
  }),
  Credential: {
    type: 'object',
    required: ['id', 'guid', 'name', 'username', 'created_at', 'updated_at', 'last_connection_at', 'last_connection_ip'],
    additionalProperties: false,
    properties: {
      id: { type: 'integer' },
      guid: { type: 'string', format: 'uuid' },
      name: { type: 'string' },
      username: { type: 'string', description: '`<slug of name>-<4 random [a-z0-9]>@<domain>`' },
      created_at: { type: 'integer', description: 'Unix seconds' },
      updated_at: { type: 'integer', description: 'Unix seconds' },
      last_connection_at: { ...nullableInt, description: 'Last successful SMTP authentication, Unix seconds' },
      last_connection_ip: nullableString,
    },
  },
  Mailbox: {
    type: 'object',
    required: ['id', 'address', 'name', 'disabled', 'created_at', 'updated_at', 'last_connection_at', 'last_connection_ip'],
    additionalProperties: false,
    properties: {
      id: { type: 'integer' },
      address: { type: 'string' },
      name: { type: 'string' },
      disabled: { type: 'boolean' },
      created_at: { type: 'integer' },
      updated_at: { type: 'integer' },
      last_connection_at: nullableInt,
      last_connection_ip: nullableString,
    },
  },
  Domain: {
    type: 'object',
    required: ['name', 'verified', 'created_at', 'mailbox_count', 'credential_count'],
    additionalProperties: false,
    properties: {
      name: { type: 'string' },
      verified: { type: 'boolean' },
      created_at: { type: 'integer' },
      mailbox_count: { type: 'integer' },
      credential_count: { type: 'integer' },
    },
  },
  LoginHistory: success(false, {
    type: 'object',
    required: ['logins'],
    additionalProperties: false,
    properties: {
      logins: {
        type: 'array',
        description: 'Newest first: one entry per day and (protocol, mechanism, result, client address)',
        items: {
          type: 'object',
          required: ['protocol', 'mechanism', 'result', 'ip', 'first_at', 'last_at', 'count'],
          additionalProperties: false,
          properties: {
            protocol: { enum: ['web', 'smtp', 'api'] },
            mechanism: { type: 'string', description: '`PLAIN` or `LOGIN` (SMTP), `password` or `current-password` (web)' },
            result: { enum: ['ok', 'bad-password', 'second-factor-pending', 'second-factor-failed', 'locked', 'disabled'] },
            ip: nullableString,
            first_at: { type: 'integer', description: 'Unix seconds' },
            last_at: { type: 'integer', description: 'Unix seconds' },
            count: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
  }),
  PasswordStrength: {
    type: 'object',
    required: ['score', 'length', 'has_uppercase', 'has_lowercase', 'has_digit', 'has_special', 'meets_policy'],
    additionalProperties: false,
    properties: {
      score: { type: 'integer', minimum: 0, maximum: 4, description: 'zxcvbn score' },
      length: { type: 'integer', description: 'Unicode code points' },
      has_uppercase: { type: 'boolean' },
      has_lowercase: { type: 'boolean' },
      has_digit: { type: 'boolean' },
      has_special: { type: 'boolean' },
      meets_policy: { type: 'boolean' },
    },
  },
  CredentialSecret: success(true, {
    type: 'object',
    required: ['credential', 'password', 'password_strength', 'synced'],
    additionalProperties: false,
    properties: {
      credential: ref('Credential'),
      password: { type: 'string', description: 'Shown only in this response' },
      password_strength: ref('PasswordStrength'),
      synced: { type: 'boolean', description: 'True once every SMTP listener refuses the old password' },
    },
  }),
  DomainList: success(false, { type: 'object', required: ['domains'], properties: { domains: { type: 'array', items: ref('Domain') } } }),
  CredentialList: success(false, { type: 'object', required: ['credentials'], properties: { credentials: { type: 'array', items: ref('Credential') } } }),
  CredentialDeleted: success(true, { type: 'object', required: ['credential'], properties: { credential: ref('Credential') } }),
  MailboxList: success(false, {
    type: 'object',
    required: ['mailboxes', 'total', 'page', 'page_size'],
    properties: {
      mailboxes: { type: 'array', items: ref('Mailbox') },
      total: { type: 'integer' },
      page: { type: 'integer' },
      page_size: { type: 'integer' },
    },
  }),
  MailboxPassword: success(true, {
    type: 'object',
    required: ['mailbox', 'password_strength', 'synced'],
    additionalProperties: false,
    properties: {
      mailbox: ref('Mailbox'),
      password: { type: 'string', description: 'Only when it was generated' },
      password_strength: ref('PasswordStrength'),
      synced: { type: 'boolean' },
    },
  }),
};

/** SPEC §15: GET and PUT of one level's sending limits. */
const limitsPaths = (path: string, parameters: object[], name: string, what: string, errors: object) => ({
  [path]: {
    parameters,
    get: {
      operationId: `get${name}Limits`,
      summary: `The sending limits of ${what}: as set, as they apply, and what was sent`,
      responses: { '200': ok('Sending limits', 'Limits', { success: true, data: limitsExample }), ...errors },
    },
    put: {
      operationId: `set${name}Limits`,
      summary: `Set the sending limits of ${what} (null: inherit)`,
      requestBody: { required: true, content: { 'application/json': { schema: { ...ref('SendLimits') }, example: limitsExample.limits } } },
      responses: {
        '200': ok('Saved', 'Limits', { success: true, message: 'Sending limits saved.', data: limitsExample }),
        ...errors,
        '400': error('A value that is not a whole number from 0 to 100000000 or null, or an unknown key: the message names the field', 'per_hour: Must be a whole number from 0 to 100000000 (0: no limit), or null for the level above\'s'),
      },
    },
  },
});

const error = (description: string, message: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error'), example: { success: false, message } } },
});

const rateHeaders = {
  'X-RateLimit-Limit': { description: 'Requests per minute', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in this minute', schema: { type: 'integer' } },
};

const ok = (description: string, schema: string, example: unknown) => ({
  description,
  headers: rateHeaders,
  content: { 'application/json': { schema: ref(schema), example } },
});

/** SPEC §18: a token's scope, the same on every operation. */
const SCOPE_REFUSAL = 'Token scope does not allow this';
const outOfScope = "Outside the token's scope: a write (POST, PUT, DELETE) with a read-only token, a domain the token is not for, or a client address it is not allowed from";

const common = {
  '401': error('No, an invalid, a revoked or an expired bearer token', 'Unauthorized'),
  '403': error(outOfScope, SCOPE_REFUSAL),
  '404': error('Domain (or object) outside the token admin\'s domains, or unknown', 'Domain not found'),
  '429': {
    ...error('Rate limit exceeded', 'Too many attempts. Please try again later.'),
    headers: { ...rateHeaders, 'Retry-After': { description: 'Seconds until the window resets', schema: { type: 'integer' } } },
  },
  '500': error('Unexpected error; details go to the log only', 'An error occurred while processing the request.'),
  '503': error('The database cannot be written now', 'Service temporarily unavailable.'),
};
const domainErrors = { ...common, '409': error('The domain is not verified', 'Domain is not verified') };
const credentialErrors = {
  ...domainErrors,
  '403': {
    description: `${outOfScope}; or the credential belongs to another domain of the same admin`,
    content: {
      'application/json': {
        schema: ref('Error'),
        example: { success: false, message: SCOPE_REFUSAL },
        examples: {
          scope: { value: { success: false, message: SCOPE_REFUSAL } },
          otherDomain: { value: { success: false, message: 'Credential does not belong to the specified domain' } },
        },
      },
    },
  },
  '404': error('Unknown domain or credential', 'Credential not found'),
};
const bodyErrors = {
  '400': error('Malformed JSON', 'Malformed JSON in the request body.'),
  '413': error('Body over 100 kB', 'Request body too large (limit 100 kB).'),
  '415': error('A body that is not JSON', 'Content-Type must be application/json.'),
  '422': {
    description: 'Invalid input, with the reasons per field',
    content: { 'application/json': { schema: ref('Error'), example: { success: false, message: 'Validation failed', errors: { name: ['Is required.'] } } } },
  },
};

const domainParam = { name: 'domain', in: 'path', required: true, schema: { type: 'string' }, example: 'example.com' };
const credentialParam = { name: 'credential', in: 'path', required: true, description: 'The credential GUID', schema: { type: 'string', format: 'uuid' } };
const addressParam = { name: 'address', in: 'path', required: true, schema: { type: 'string' }, example: 'jane@example.com' };

export function openApiDocument(rateLimit: number) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'mailpass API',
      version: '1.0.0',
      description: `Mail passwords and per-application SMTP credentials. Bearer tokens are created in the panel (API tokens) or with \`mailpass token add\`; each acts within its admin's domains and its own scope (read-only, some domains, an expiry, client addresses). ${rateLimit} requests per minute per token. Times are Unix seconds.`,
    },
    servers: [{ url: '/api' }],
    // SPEC §19: what mailpass sends to webhooks.
    webhooks: webhooksDocument(),
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            "A token of an admin (`mailpass token add`, or the panel's API tokens page), with a scope (SPEC §18): read-only (GET only), some of the admin's domains, an expiry, the client addresses it is accepted from. A token never does more than its admin may; tokens made without a scope may do everything their admin may. Outside its scope: 403 `Token scope does not allow this`; expired: 401.",
        },
      },
      schemas,
    },
    paths: {
      '/domains': {
        get: {
          operationId: 'listDomains',
          summary: "The token admin's domains (those of its scope, when it has one)",
          responses: { '200': ok('Domains', 'DomainList', { success: true, data: { domains: [{ name: 'example.com', verified: true, created_at: 1640995200, mailbox_count: 12, credential_count: 2 }] } }), ...common },
        },
      },
      '/domains/{domain}/credentials': {
        parameters: [domainParam],
        get: {
          operationId: 'listCredentials',
          summary: "The domain's SMTP credentials",
          responses: { '200': ok('Credentials', 'CredentialList', { success: true, data: { credentials: [credentialExample] } }), ...domainErrors },
        },
        post: {
          operationId: 'createCredential',
          summary: 'Create an SMTP credential; its password is shown only in this response',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 100 } } }, example: { name: 'WordPress' } } },
          },
          responses: {
            '201': ok('Created', 'CredentialSecret', { success: true, message: 'Credential created successfully.', data: { credential: credentialExample, password: 'x7#Kq2!pLm9@Zr4^Wt8_', password_strength: strengthExample, synced: true } }),
            ...domainErrors,
            ...bodyErrors,
          },
        },
      },
      '/domains/{domain}/credentials/{credential}/reset-password': {
        parameters: [domainParam, credentialParam],
        put: {
          operationId: 'resetCredentialPassword',
          summary: 'Generate a new password; the old one fails over SMTP when this answers',
          responses: {
            '200': ok('Reset', 'CredentialSecret', { success: true, message: 'Password reset successfully.', data: { credential: credentialExample, password: 'x7#Kq2!pLm9@Zr4^Wt8_', password_strength: strengthExample, synced: true } }),
            ...credentialErrors,
            '409': error('Domain not verified, or a concurrent reset of the same credential', 'Domain is not verified'),
          },
        },
      },
      '/domains/{domain}/credentials/{credential}': {
        parameters: [domainParam, credentialParam],
        delete: {
          operationId: 'deleteCredential',
          summary: 'Delete a credential, irreversibly; its SMTP sessions end',
          responses: { '200': ok('Deleted', 'CredentialDeleted', { success: true, message: 'Credential deleted successfully.', data: { credential: credentialExample } }), ...credentialErrors },
        },
      },
      '/domains/{domain}/mailboxes': {
        parameters: [domainParam],
        get: {
          operationId: 'listMailboxes',
          summary: 'Mailboxes of the domain, 50 a page, searched by the start of the address',
          parameters: [
            { name: 'search', in: 'query', schema: { type: 'string' } },
            { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1 } },
          ],
          responses: { '200': ok('Mailboxes', 'MailboxList', { success: true, data: { mailboxes: [mailboxExample], total: 1, page: 1, page_size: 50 } }), ...domainErrors },
        },
      },
      '/domains/{domain}/mailboxes/{address}/logins': {
        parameters: [domainParam, addressParam],
        get: {
          operationId: 'listMailboxLogins',
          summary: "The mailbox's login history (LOGIN_HISTORY_DAYS), newest first",
          responses: { '200': ok('Login history', 'LoginHistory', { success: true, data: { logins: [loginExample] } }), ...domainErrors },
        },
      },
      '/domains/{domain}/credentials/{credential}/logins': {
        parameters: [domainParam, credentialParam],
        get: {
          operationId: 'listCredentialLogins',
          summary: "The credential's login history (LOGIN_HISTORY_DAYS), newest first",
          responses: { '200': ok('Login history', 'LoginHistory', { success: true, data: { logins: [loginExample] } }), ...credentialErrors },
        },
      },
      ...limitsPaths('/domains/{domain}/limits', [domainParam], 'Domain', 'a domain (the defaults of its mailboxes and credentials)', domainErrors),
      ...limitsPaths('/domains/{domain}/mailboxes/{address}/limits', [domainParam, addressParam], 'Mailbox', 'a mailbox (its app passwords count towards it)', domainErrors),
      ...limitsPaths('/domains/{domain}/credentials/{credential}/limits', [domainParam, credentialParam], 'Credential', 'an SMTP credential', credentialErrors),
      '/domains/{domain}/mailboxes/{address}/password': {
        parameters: [domainParam, addressParam],
        put: {
          operationId: 'setMailboxPassword',
          summary: 'Set a mailbox password (omit `password` to generate one); its sessions end',
          requestBody: {
            required: false,
            content: { 'application/json': { schema: { type: 'object', properties: { password: { type: 'string', maxLength: 128 } } }, example: { password: 'Kv7#pLq2!wZr' } } },
          },
          responses: {
            '200': ok('Updated', 'MailboxPassword', { success: true, message: 'Password updated successfully.', data: { mailbox: mailboxExample, password_strength: strengthExample, synced: true } }),
            ...domainErrors,
            ...bodyErrors,
          },
        },
      },
    },
  };
}
