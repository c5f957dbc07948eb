/** Values an installation makes once and keeps (the keys of cookies, marks and the throttle). */
export interface SettingStore {
  /** The value of a setting, created with `create()` on first use. */
  getOrCreateSetting(key: string, create: () => string): Promise<string>;
  /** A setting's value, or null when there is none (nothing is made). */
  readSetting(key: string): Promise<string | null>;
}
