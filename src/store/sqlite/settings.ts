import type { SettingStore } from '../../core/ports.js';
import type { Db } from './db.js';

export function createSqliteSettings(db: Db): SettingStore {
  const q = {
    get: db.prepare('SELECT value FROM settings WHERE key = ?'),
    insert: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
  };
  const read = (key: string) => (q.get.get(key) as { value: string } | undefined)?.value ?? null;
  return {
    async readSetting(key) {
      return read(key);
    },
    async getOrCreateSetting(key, create) {
      const existing = read(key);
      if (existing !== null) return existing;
      q.insert.run(key, create());
      return read(key)!;
    },
  };
}
