import { cliActor } from '../../core/actors.js';
import type { Command } from '../command.js';

export const tokenAdd: Command = {
  path: ['token', 'add'],
  usage: 'mailpass token add <admin-username> --name NAME',
  summary: 'create an API token for that admin; printed once',
  help: 'The token acts with the rights of that admin, within its domains. Only its SHA-256 is stored.',
  options: { name: { type: 'string' } },
  required: ['name'],
  positionals: 1,
  async run(ctx, [adminUsername], values) {
    const svc = await ctx.services();
    const { plaintext } = await svc.tokens.createToken(cliActor, { adminUsername, name: values.name }, null);
    ctx.io.stdout(`${plaintext}\n`);
  },
};
