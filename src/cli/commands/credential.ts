import { cliActor } from '../../core/actors.js';
import type { Command } from '../command.js';

export const credentialAdd: Command = {
  path: ['credential', 'add'],
  usage: 'mailpass credential add <domain> --name NAME',
  summary: 'create an SMTP credential for an application; prints its username and password once',
  help: 'Prints two lines: the generated username, then the password.',
  options: { name: { type: 'string' } },
  required: ['name'],
  positionals: 1,
  async run(ctx, [domain], values) {
    const svc = await ctx.services();
    const { credential, password } = await svc.credentials.createCredential(cliActor, await svc.domains.requireDomain(cliActor, domain), values.name, null);
    ctx.io.stdout(`${credential.login}\n${password}\n`);
  },
};
