import request from 'supertest';
import { cliActor } from '../../src/core/actors.js';
import type { ScopeInput } from '../../src/core/tokens.js';
import type { Services } from '../../src/services.js';

/** A bearer token for `adminUsername`, created as the CLI does. */
export async function aToken(svc: Services, adminUsername: string, name = 'test', scope: ScopeInput = {}) {
  const { plaintext, token } = await svc.tokens.createToken(cliActor, { adminUsername, name, ...scope });
  return { plaintext, token };
}

/** A supertest client that sends the bearer token on every request. */
export function apiClient(url: string, token: string) {
  const auth = (req: request.Test) => req.set('Authorization', `Bearer ${token}`);
  const client = request(url);
  return {
    get: (path: string) => auth(client.get(`/api${path}`)),
    post: (path: string, body?: object) => auth(client.post(`/api${path}`)).send(body),
    put: (path: string, body?: object) => auth(client.put(`/api${path}`)).send(body),
    delete: (path: string) => auth(client.delete(`/api${path}`)),
  };
}
