import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  selfSigned: boolean;
}

/**
 * The configured certificate, or a self-signed one for `hostname` made on first start under
 * `<dataDir>/tls/` and reused afterwards.
 */
export async function loadTls({ dataDir, hostname, certFile, keyFile }: { dataDir: string; hostname: string; certFile?: string; keyFile?: string }): Promise<TlsMaterial> {
  if (certFile && keyFile) return { key: readFileSync(keyFile), cert: readFileSync(certFile), selfSigned: false };
  const dir = path.join(dataDir, 'tls');
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const now = new Date();
    const pems = await generate([{ name: 'commonName', value: hostname }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - 60_000),
      notAfterDate: new Date(now.getTime() + 5 * 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] },
      ],
    });
    // Written under temporary names and renamed, so that a crash never leaves half a key.
    writeFileSync(`${keyPath}.tmp`, pems.private, { mode: 0o600 });
    writeFileSync(`${certPath}.tmp`, pems.cert, { mode: 0o644 });
    renameSync(`${keyPath}.tmp`, keyPath);
    renameSync(`${certPath}.tmp`, certPath);
    chmodSync(keyPath, 0o600);
  }
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), selfSigned: true };
}
