import { cliActor } from '../../core/actors.js';
import { parseAddress } from '../../core/addresses.js';
import { passwordOptions, passwordSource, type Command } from '../command.js';

const PASSWORD_HELP = 'The password is read from standard input with --password-stdin, or generated and printed once with --generate.';

export const mailboxAdd: Command = {
  path: ['mailbox', 'add'],
  usage: 'mailpass mailbox add <address> (--password-stdin | --generate) [--name NAME]',
  summary: 'add a mailbox',
  help: PASSWORD_HELP,
  options: { ...passwordOptions, name: { type: 'string' } },
  positionals: 1,
  async run(ctx, [address], values) {
    const source = await passwordSource(ctx, values);
    const svc = await ctx.services();
    const { password } = await svc.mailboxes.addMailbox(cliActor, { address, name: values.name, ...source });
    if (password) ctx.io.stdout(`${password}\n`);
  },
};

export const mailboxPasswd: Command = {
  path: ['mailbox', 'passwd'],
  usage: 'mailpass mailbox passwd <address> (--password-stdin | --generate)',
  summary: "set a mailbox's password; its sessions end and the old password stops working at once",
  help: PASSWORD_HELP,
  options: { ...passwordOptions },
  positionals: 1,
  async run(ctx, [address], values) {
    const source = await passwordSource(ctx, values);
    const svc = await ctx.services();
    const domain = await svc.domains.requireDomain(cliActor, parseAddress(address).domain);
    const { password, generated } = await svc.mailboxes.resetPassword(cliActor, domain, address, source);
    if (generated) ctx.io.stdout(`${password}\n`);
  },
};

const toggle = (disabled: boolean): Command => ({
  path: ['mailbox', disabled ? 'disable' : 'enable'],
  usage: `mailpass mailbox ${disabled ? 'disable' : 'enable'} <address>`,
  summary: disabled ? 'disable a mailbox: it cannot log in anywhere and its sessions end' : 'enable a disabled mailbox',
  positionals: 1,
  async run(ctx, [address]) {
    const svc = await ctx.services();
    const domain = await svc.domains.requireDomain(cliActor, parseAddress(address).domain);
    await svc.mailboxes.setDisabled(cliActor, domain, address, disabled);
  },
});

export const mailboxDisable = toggle(true);
export const mailboxEnable = toggle(false);
