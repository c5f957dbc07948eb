import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// An HTTP endpoint on 127.0.0.1 that records the webhook deliveries it gets, answering each with
// the status `answer` chooses; and the Standard Webhooks check a receiver makes, written from the
// convention alone (docs/webhooks.md shows the same in three languages).

export interface Delivery {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  json: { type: string; timestamp: string; data: Record<string, unknown> };
  headers: http.IncomingHttpHeaders;
  /** The status it was answered with. */
  status: number;
}

export interface Receiver {
  url: string;
  port: number;
  /** Every delivery, in the order they came. */
  received: Delivery[];
  /** Those answered 2xx, in order. */
  accepted(): Delivery[];
  /** Resolves when `accepted()` has `n` deliveries (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<Delivery[]>;
  close(): Promise<void>;
}

/** `location`: where a 3xx answer points. */
export async function startReceiver({ answer = () => 200, port = 0, location = 'http://127.0.0.1:9/elsewhere' }: { answer?: (d: Omit<Delivery, 'status'>, index: number) => number; port?: number; location?: string } = {}): Promise<Receiver> {
  const received: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const d = {
        id: String(req.headers['webhook-id'] ?? ''),
        timestamp: String(req.headers['webhook-timestamp'] ?? ''),
        signature: String(req.headers['webhook-signature'] ?? ''),
        body,
        json: JSON.parse(body || '{}') as Delivery['json'],
        headers: req.headers,
      };
      const status = answer(d, received.length);
      received.push({ ...d, status });
      res.writeHead(status, status >= 300 && status < 400 ? { location } : {}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  const accepted = () => received.filter((d) => d.status >= 200 && d.status < 300);
  return {
    url: `http://127.0.0.1:${actual}/hook`,
    port: actual,
    received,
    accepted,
    async waitFor(n, ms = 15_000) {
      const until = Date.now() + ms;
      while (accepted().length < n) {
        if (Date.now() > until) throw new Error(`${accepted().length} of ${n} deliveries within ${ms} ms: ${received.map((r) => `${r.json.type} ${r.status}`).join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return accepted();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The Standard Webhooks check: the HMAC-SHA256 of `id.timestamp.body` under the secret's bytes, among the signatures given. */
export function verifySignature(secret: string, d: Pick<Delivery, 'id' | 'timestamp' | 'signature' | 'body'>): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${d.id}.${d.timestamp}.${d.body}`).digest();
  return d.signature.split(' ').some((s) => {
    const [version, sig] = s.split(',');
    const given = Buffer.from(sig ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
