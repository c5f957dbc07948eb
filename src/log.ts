import pino, { type DestinationStream } from 'pino';
import type { Logger } from './core/ports.js';

/** Field names whose values are never written, wherever they appear in a log line. */
export const REDACTED_PATHS = [
  'password',
  'newPassword',
  'currentPassword',
  'passwordHash',
  'hash',
  'token',
  'secret',
  'sid',
  'cookie',
  'authorization',
  '*.password',
  '*.passwordHash',
  '*.hash',
  '*.token',
  '*.secret',
  '*.sid',
  '*.cookie',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/** JSON lines on stdout (or `destination`), with secrets redacted. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'mailpass' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  ) as unknown as Logger;
}
