import { cliActor } from '../../core/actors.js';
import { passwordOptions, passwordSource, type Command } from '../command.js';

export const adminAdd: Command = {
  path: ['admin', 'add'],
  usage: 'mailpass admin add <username> [--super] [--domain D]... (--password-stdin | --generate)',
  summary: 'add an admin; without --super, a domain admin of the named domains',
  help: 'The password is read from standard input with --password-stdin, or generated and printed once with --generate.',
  options: { ...passwordOptions, super: { type: 'boolean' }, domain: { type: 'string', multiple: true } },
  positionals: 1,
  async run(ctx, [username], values) {
    const source = await passwordSource(ctx, values);
    const svc = await ctx.services();
    const domains = (values.domain as string[] | undefined) ?? [];
    const { password } = await svc.admins.addAdmin(cliActor, { username, isSuper: !!values.super, domains, ...source });
    if (password) ctx.io.stdout(`${password}\n`);
  },
};
