import { cliActor } from '../../core/actors.js';
import { passwordOptions, passwordSource, type Command } from '../command.js';

const PASSWORD_HELP = 'The password is read from standard input with --password-stdin, or generated and printed once with --generate.';

export const adminAdd: Command = {
  path: ['admin', 'add'],
  usage: 'mailpass admin add <username> [--super] [--domain D]... (--password-stdin | --generate)',
  summary: 'add an admin; without --super, a domain admin of the named domains',
  help: `${PASSWORD_HELP} An admin with a generated password must choose its own at its first login.`,
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

export const adminList: Command = {
  path: ['admin', 'list'],
  usage: 'mailpass admin list',
  summary: 'list admins: username, role, state and domains, one a line, tab-separated',
  positionals: 0,
  async run(ctx) {
    const svc = await ctx.services();
    const domains = new Map((await svc.domains.listDomains(cliActor)).map((d) => [d.id, d.name]));
    for (const a of await svc.admins.listAdmins(cliActor)) {
      const state = a.disabled ? 'disabled' : a.mustChangePassword ? 'must-change-password' : 'enabled';
      const scope = a.isSuper ? '' : a.domainIds.map((id) => domains.get(id) ?? String(id)).join(',');
      ctx.io.stdout(`${[a.username, a.isSuper ? 'super' : 'domain', state, scope].join('\t')}\n`);
    }
  },
};

export const adminPasswd: Command = {
  path: ['admin', 'passwd'],
  usage: 'mailpass admin passwd <username> (--password-stdin | --generate)',
  summary: "set an admin's password; its sessions end and its API tokens are revoked",
  help: `${PASSWORD_HELP} After --generate the admin must choose its own password at its next login.`,
  options: { ...passwordOptions },
  positionals: 1,
  async run(ctx, [username], values) {
    const source = await passwordSource(ctx, values);
    const svc = await ctx.services();
    const { password, generated } = await svc.admins.setPassword(cliActor, username, source);
    if (generated) ctx.io.stdout(`${password}\n`);
  },
};

const toggle = (disabled: boolean): Command => ({
  path: ['admin', disabled ? 'disable' : 'enable'],
  usage: `mailpass admin ${disabled ? 'disable' : 'enable'} <username>`,
  summary: disabled ? 'disable an admin: its sessions end and its API tokens stop at once' : 'enable a disabled admin',
  help: disabled ? 'The last enabled super admin cannot be disabled.' : undefined,
  positionals: 1,
  async run(ctx, [username]) {
    const svc = await ctx.services();
    await svc.admins.setDisabled(cliActor, username, disabled);
  },
});

export const adminDisable = toggle(true);
export const adminEnable = toggle(false);

export const adminDelete: Command = {
  path: ['admin', 'delete'],
  usage: 'mailpass admin delete <username>',
  summary: 'delete an admin with its sessions and API tokens',
  help: 'The last enabled super admin cannot be deleted.',
  positionals: 1,
  async run(ctx, [username]) {
    const svc = await ctx.services();
    await svc.admins.deleteAdmin(cliActor, username);
  },
};
