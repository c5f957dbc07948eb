import type { Language } from '../languages.js';
import type { AuditEntry } from './audit.js';

export interface Admin {
  id: number;
  username: string;
  passwordHash: string;
  passwordVersion: number;
  isSuper: boolean;
  domainIds: number[];
  disabled: boolean;
  /** Set when the password was generated and printed: the admin must choose its own at the next login. */
  mustChangePassword: boolean;
  createdAt: number;
  /** SPEC §17: the language the admin chose in the panel (null: none). */
  language: Language | null;
}

/** Panel admins (SPEC §4.2). Every change writes its `audit` entry in its own transaction. */
export interface AdminStore {
  insertAdmin(input: { username: string; passwordHash: string; isSuper: boolean; domainIds: number[]; mustChangePassword: boolean; now: number }, audit: AuditEntry): Promise<Admin>;
  findAdminByUsername(username: string): Promise<Admin | null>;
  findAdminById(id: number): Promise<Admin | null>;
  listAdmins(): Promise<Admin[]>;
  countAdmins(): Promise<number>;
  /** Stores a new hash, bumps the password version, ends its web sessions, revokes its API tokens and appends `audit`. */
  setAdminPasswordAndEndSessions(adminId: number, hash: string, now: number, options: { mustChangePassword: boolean; audit: AuditEntry }): Promise<void>;
  /**
   * Changes an admin (its role and domains, or its state), ending its sessions when it is
   * disabled. Refused (false, nothing written) when the change would leave no enabled super admin.
   */
  updateAdmin(adminId: number, change: { isSuper: boolean; domainIds: number[] } | { disabled: boolean }, now: number, audit: AuditEntry): Promise<boolean>;
  /** Deletes an admin with its sessions and tokens; refused (false) for the last enabled super admin. */
  deleteAdmin(adminId: number, audit: AuditEntry): Promise<boolean>;
  /** A hash with today's parameters for the same password: written only while the version is unchanged. */
  rehashAdminPassword(adminId: number, passwordVersion: number, hash: string): Promise<void>;
  /** SPEC §17: the language the admin chose (null: none). */
  setAdminLanguage(adminId: number, language: Language | null): Promise<void>;
}
