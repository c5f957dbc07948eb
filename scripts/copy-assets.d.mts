export function copyAssets(root: string, outDir: string): void;
