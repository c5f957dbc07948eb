import { parentPort } from 'node:worker_threads';
import type { Scheme } from '../core/hash-schemes.js';
import { verifyScheme } from './legacy-hashes.js';

// Issue 29: imported BLF-CRYPT and SHA-crypt hashes are verified in JavaScript (bcryptjs,
// unixcrypt), which would hold the event loop for up to a few hundred milliseconds a login.
parentPort!.on('message', (msg: { id: number; scheme: Scheme; hash: string; password: string }) => {
  verifyScheme(msg.scheme, msg.hash, msg.password).then(
    (ok) => parentPort!.postMessage({ id: msg.id, ok }),
    () => parentPort!.postMessage({ id: msg.id, ok: false }),
  );
});
