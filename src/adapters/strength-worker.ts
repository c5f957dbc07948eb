import { parentPort } from 'node:worker_threads';
import { assess } from './zxcvbn.js';

parentPort!.on('message', (msg: { id: number; password: string; inputs: string[] }) => {
  parentPort!.postMessage({ id: msg.id, ...assess(msg.password, msg.inputs) });
});
