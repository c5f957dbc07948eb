import { cliActor } from '../../core/actors.js';
import { NotFoundError } from '../../core/errors.js';
import type { SendLimitValues } from '../../core/ports/send-limits.js';
import { MAX_LIMIT, type LimitsView } from '../../core/send-limits.js';
import type { Services } from '../../services.js';
import { UsageError, type Command, type Values } from '../command.js';

/** SPEC §15: a domain, a mailbox's address or a credential's username (one namespace). */
async function target(svc: Services, name: string) {
  if (!name.includes('@')) {
    const domain = await svc.domains.requireDomain(cliActor, name);
    return { label: `${domain.name} (domain)`, show: () => svc.sendLimits.ofDomain(cliActor, domain), set: (v: SendLimitValues) => svc.sendLimits.setDomain(cliActor, domain, v) };
  }
  const login = name.trim().toLowerCase();
  const domain = await svc.domains.requireDomain(cliActor, login.slice(login.lastIndexOf('@') + 1));
  const account =
    (await svc.mailboxes.getMailbox(cliActor, domain, login).catch((err: unknown) => (err instanceof NotFoundError ? null : Promise.reject(err)))) ??
    (await svc.credentials.listCredentials(cliActor, domain)).find((c) => c.login === login);
  if (!account) throw new NotFoundError('mailbox-not-found', `No mailbox or credential ${login}`);
  return {
    label: `${account.login} (${account.kind === 'mailbox' ? 'mailbox' : `credential ${account.name}`})`,
    show: () => svc.sendLimits.ofAccount(cliActor, account),
    set: (v: SendLimitValues) => svc.sendLimits.setAccount(cliActor, account, v),
  };
}

const shown = (n: number) => (n === 0 ? '0 (no limit)' : String(n));

function print(label: string, view: LimitsView) {
  const line = (name: string, key: keyof SendLimitValues) => `${name}: ${view.limits[key] === null ? 'default' : view.limits[key]} (applies: ${shown(view.effective[key])})`;
  return [
    `limits of ${label}`,
    line('per_hour', 'perHour'),
    line('per_day', 'perDay'),
    line('max_recipients', 'maxRecipients'),
    `sent_last_hour: ${view.sent.lastHour}`,
    `sent_last_day: ${view.sent.lastDay}`,
    '',
  ].join('\n');
}

export const limitsShow: Command = {
  path: ['limits', 'show'],
  usage: 'mailpass limits show <domain|address|credential-username>',
  summary: 'show sending limits (as set and as they apply) and what was sent',
  help: '"default": not set here, the level above\'s value applies (the domain\'s, then the installation\'s). 0: no limit.',
  positionals: 1,
  async run(ctx, [name]) {
    const svc = await ctx.services();
    const t = await target(svc, name!);
    ctx.io.stdout(print(t.label, await t.show()));
  },
};

const OPTIONS = { 'per-hour': 'perHour', 'per-day': 'perDay', 'max-recipients': 'maxRecipients' } as const;

/** One option's value: a whole number, or `default` to clear it; absent keeps what is set. */
function option(values: Values, name: keyof typeof OPTIONS, current: number | null): number | null {
  const v = values[name];
  if (v === undefined) return current;
  if (v === 'default') return null;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) > MAX_LIMIT) throw new UsageError(`--${name} must be a whole number from 0 to ${MAX_LIMIT} (0: no limit) or "default"`);
  return Number(v);
}

export const limitsSet: Command = {
  path: ['limits', 'set'],
  usage: 'mailpass limits set <domain|address|credential-username> [--per-hour N] [--per-day N] [--max-recipients N]',
  summary: 'set sending limits in recipients; "default" clears one',
  help: 'Options not given keep their value. --per-hour default clears the override (the level above applies); 0 is no limit. Prints the limits as they then are.',
  options: { 'per-hour': { type: 'string' }, 'per-day': { type: 'string' }, 'max-recipients': { type: 'string' } },
  positionals: 1,
  async run(ctx, [name], values) {
    if (Object.keys(OPTIONS).every((o) => values[o] === undefined)) throw new UsageError('give at least one of --per-hour, --per-day, --max-recipients');
    // Every option is checked before anything is read or written.
    for (const o of Object.keys(OPTIONS) as Array<keyof typeof OPTIONS>) option(values, o, null);
    const svc = await ctx.services();
    const t = await target(svc, name!);
    const { limits } = await t.show();
    const next = {
      perHour: option(values, 'per-hour', limits.perHour),
      perDay: option(values, 'per-day', limits.perDay),
      maxRecipients: option(values, 'max-recipients', limits.maxRecipients),
    };
    await t.set(next);
    ctx.io.stdout(print(t.label, await t.show()));
  },
};
