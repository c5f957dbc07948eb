import { cliActor } from '../../core/actors.js';
import { MAX_TOKEN_DAYS } from '../../core/tokens.js';
import { UsageError, type Command } from '../command.js';

export const tokenAdd: Command = {
  path: ['token', 'add'],
  usage: 'mailpass token add <admin-username> --name NAME [--read-only] [--domain D]... [--expires-days N] [--allow-ip CIDR]...',
  summary: 'create an API token for that admin; printed once',
  help:
    'The token acts with the rights of that admin, within its domains, and never more (SPEC §18):\n' +
    '  --read-only       GET requests only\n' +
    '  --domain D        only these domains of the admin (repeat for several)\n' +
    `  --expires-days N  refused (401) after N days (1 to ${MAX_TOKEN_DAYS})\n` +
    '  --allow-ip CIDR   only from these client addresses or networks (repeat for several)\n' +
    'Only its SHA-256 is stored.',
  options: {
    name: { type: 'string' },
    'read-only': { type: 'boolean' },
    domain: { type: 'string', multiple: true },
    'expires-days': { type: 'string' },
    'allow-ip': { type: 'string', multiple: true },
  },
  required: ['name'],
  positionals: 1,
  async run(ctx, [adminUsername], values) {
    const days = values['expires-days'];
    if (typeof days === 'string' && !/^\d{1,5}$/.test(days)) throw new UsageError(`--expires-days must be a whole number of days (1 to ${MAX_TOKEN_DAYS})`);
    const svc = await ctx.services();
    const { plaintext } = await svc.tokens.createToken(
      cliActor,
      { adminUsername, name: values.name, readOnly: values['read-only'] === true, domains: values.domain, expiresDays: days, allowIps: values['allow-ip'] },
      null,
    );
    ctx.io.stdout(`${plaintext}\n`);
  },
};
