import type { SessionOwner } from './sessions.js';

/** What an owner is told about (issue 17): by mail through the relay, else on its next panel visit. */
export type NoticeKind = 'password-changed' | 'second-factor-added' | 'second-factor-removed' | 'new-network' | 'password-accepted' | 'second-factor-guessed' | 'app-password-created' | 'send-limit-reached' | 'recovery-address-changed' | 'webhook-paused';

export interface Notice {
  kind: NoticeKind;
  /** JSON of the event's details (who, from where); never a secret. */
  detail: string;
  at: number;
}

/** Notices kept for an owner's next panel visit (its newest 20). */
export interface NoticeStore {
  addNotice(owner: SessionOwner, notice: Notice): Promise<void>;
  /** The owner's notices, oldest first; they are gone once taken. */
  takeNotices(owner: SessionOwner): Promise<Notice[]>;
}
