import type pg from 'pg';
import type { SettingStore } from '../../core/ports.js';
import { queries } from './query.js';

export function createPostgresSettings(pool: pg.Pool): SettingStore {
  const { one, run } = queries(pool);
  const read = async (key: string) => (await one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))?.value ?? null;
  return {
    readSetting: read,
    async getOrCreateSetting(key, create) {
      const existing = await read(key);
      if (existing !== null) return existing;
      await run('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, create()]);
      return (await read(key))!;
    },
  };
}
