import { cliActor } from '../../core/actors.js';
import { UsageError, type Command } from '../command.js';

export const dkimAdd: Command = {
  path: ['dkim', 'add'],
  usage: 'mailpass dkim add <domain> [--selector S]',
  summary: 'make DKIM keys for a domain (Ed25519 and RSA-2048) and print their DNS records',
  help: [
    'Two keys, selectors S-ed and S-rsa (S: mp and today\'s date, e.g. mp20261204). Relayed mail whose',
    'envelope sender is in the domain is signed with every key the domain has: add a new pair to rotate,',
    'publish its records, and remove the old pair in the panel once the new one is in DNS.',
    'Prints one line a record: its name, a tab, its TXT value. The private keys are never printed.',
    '',
    '  --selector S   the selectors\' common part (letters, digits, dashes)',
  ].join('\n'),
  options: { selector: { type: 'string' } },
  positionals: 1,
  async run(ctx, [name], values) {
    if (values.selector !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$/i.test(values.selector as string)) {
      throw new UsageError('--selector must be letters, digits and dashes (a DNS label), at most 42');
    }
    const svc = await ctx.services();
    const domain = await svc.domains.requireDomain(cliActor, name);
    for (const r of await svc.dkim.add(cliActor, domain, values.selector)) ctx.io.stdout(`${r.name}\t${r.value}\n`);
  },
};
