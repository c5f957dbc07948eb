import { cliActor } from '../../core/actors.js';
import type { Command } from '../command.js';

export const domainAdd: Command = {
  path: ['domain', 'add'],
  usage: 'mailpass domain add <domain> [--unverified]',
  summary: 'add a domain (verified unless --unverified)',
  help: 'Accounts of an unverified domain exist but cannot log in anywhere.',
  options: { unverified: { type: 'boolean' } },
  positionals: 1,
  async run(ctx, [name], values) {
    const svc = await ctx.services();
    const domain = await svc.domains.addDomain(cliActor, name, { verified: !values.unverified });
    ctx.io.stdout(`${domain.name}\n`);
  },
};

export const domainList: Command = {
  path: ['domain', 'list'],
  usage: 'mailpass domain list',
  summary: 'list domains: name, status, mailboxes, credentials',
  positionals: 0,
  async run(ctx) {
    const svc = await ctx.services();
    for (const d of await svc.domains.listDomains(cliActor)) {
      ctx.io.stdout(`${d.name}\t${d.verified ? 'verified' : 'unverified'}\t${d.mailboxCount}\t${d.credentialCount}\n`);
    }
  },
};
