import { EventEmitter } from 'node:events';
import type { AccountEvents } from './ports.js';

/** In-process notices of password and state changes; other processes are caught by polling versions. */
export function createAccountEvents(): AccountEvents {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    emitChanged: (accountId) => emitter.emit('changed', accountId),
    onChanged(listener) {
      emitter.on('changed', listener);
      return () => emitter.off('changed', listener);
    },
    emitAppPasswordRevoked: (id) => emitter.emit('app-password-revoked', id),
    onAppPasswordRevoked(listener) {
      emitter.on('app-password-revoked', listener);
      return () => emitter.off('app-password-revoked', listener);
    },
  };
}
