export function copyAssets(root: string, outDir: string): void;
export function buildAssets(root: string, outDir: string): Record<string, { file: string; type: string }>;
