// The relay benchmark's sink: an smtp-server that takes every message and throws it away, in a
// process of its own (so that its CPU is not the load generator's), with STARTTLS on the
// certificate given in SINK_TLS_DIR and any AUTH accepted. Reports its port over IPC.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

const dir = process.env.SINK_TLS_DIR;
let messages = 0;
const server = new SMTPServer({
  name: 'sink.test',
  key: readFileSync(path.join(dir, 'key.pem')),
  cert: readFileSync(path.join(dir, 'cert.pem')),
  authMethods: ['PLAIN', 'LOGIN'],
  authOptional: true,
  hideENHANCEDSTATUSCODES: false,
  maxClients: 1000,
  logger: false,
  onAuth: (auth, _session, cb) => cb(null, { user: auth.username }),
  onData(stream, _session, cb) {
    stream.on('data', () => {});
    stream.on('end', () => {
      messages++;
      cb(null, `2.0.0 Ok: queued as ${randomUUID()}`);
    });
  },
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.server.address().port }));
process.on('message', (msg) => {
  if (msg.cmd === 'count') process.send({ cmd: 'count', messages });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
