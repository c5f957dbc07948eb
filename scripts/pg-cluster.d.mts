export function findPgBin(): string | null;
export function startCluster(): Promise<{ url: string; port: number; bin: string; stop(): void } | null>;
export function createDatabase(url: string, name: string): string;
