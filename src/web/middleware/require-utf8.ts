import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * body-parser `verify` hooks that refuse (400) a body that is not UTF-8. Without them, invalid
 * bytes become U+FFFD in JSON and stay as literal percent-escapes in forms: a password or name
 * would be stored as something other than what the client sent, and differently by each edge.
 */
const notUtf8 = () => Object.assign(new Error('The request body is not valid UTF-8.'), { status: 400, type: 'encoding.invalid' });

export function requireUtf8Json(_req: IncomingMessage, _res: ServerResponse, body: Buffer) {
  if (!isUtf8(body)) throw notUtf8();
}

/** A urlencoded body is ASCII; what must be UTF-8 is each name and value once percent-decoded. */
export function requireUtf8Form(_req: IncomingMessage, _res: ServerResponse, body: Buffer) {
  for (const pair of body.toString('latin1').split('&')) {
    for (const part of pair.split('=')) {
      if (!part.includes('%')) continue;
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        throw notUtf8();
      }
    }
  }
}
