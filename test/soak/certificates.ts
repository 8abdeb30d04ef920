// The webhook's serving certificate, replaced under load in the two ways files change in practice:
// as kubelet updates a Secret volume (the new pair in a new timestamped directory, then one atomic
// rename of the `..data` symlink; tls.crt and tls.key are symlinks through it), and rewritten in
// place (truncate and write, key then cert: for a moment the files do not match).
import { X509Certificate } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CertificateFiles } from '../e2e/harness/context.js';
import { issueCertificate } from '../../scripts/pki.mjs';

export type RotationMode = 'secret-volume' | 'rewrite';
const FILES = ['tls.crt', 'tls.key'] as const;

/** Serial numbers as both X509Certificate and a TLS peer certificate give them, compared as equal. */
export function normalizeSerial(serial: string): string {
  return serial.toUpperCase().replace(/^0+/, '');
}

export class RotatingCertificate {
  private issued = 0;

  private constructor(
    readonly dir: string,
    private readonly ca: CertificateFiles,
  ) {}

  get certFile(): string {
    return join(this.dir, 'tls.crt');
  }

  get keyFile(): string {
    return join(this.dir, 'tls.key');
  }

  /** A Secret-volume layout in `dir` with a first pair; returns it and that pair's serial. */
  static async create(
    dir: string,
    ca: CertificateFiles,
  ): Promise<{ rotating: RotatingCertificate; serial: string }> {
    await mkdir(dir, { recursive: true });
    const rotating = new RotatingCertificate(dir, ca);
    const serial = await rotating.rotate('secret-volume');
    return { rotating, serial };
  }

  /** Writes a new pair the given way; returns its serial number. */
  async rotate(mode: RotationMode): Promise<string> {
    const pair = await this.issue();
    if (mode === 'secret-volume') await this.swap(pair);
    else await this.rewrite(pair);
    return normalizeSerial(new X509Certificate(pair['tls.crt']).serialNumber);
  }

  private async issue(): Promise<Record<(typeof FILES)[number], string>> {
    // Issued next to the directory, not in it: the webhook watches it.
    const scratch = await mkdtemp(join(dirname(this.dir), 'issue-'));
    try {
      const files = await issueCertificate(scratch, `serving-${++this.issued}`, this.ca, {
        commonName: 'pod-identity-webhook',
        hosts: ['127.0.0.1', 'localhost'],
      });
      return { 'tls.crt': await readFile(files.cert, 'utf8'), 'tls.key': await readFile(files.key, 'utf8') };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  private async swap(pair: Record<(typeof FILES)[number], string>): Promise<void> {
    const version = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${this.issued}`;
    await mkdir(join(this.dir, version));
    for (const file of FILES) await writeFile(join(this.dir, version, file), pair[file], { mode: 0o600 });
    await symlink(version, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    // The user-visible names: symlinks through ..data, created once (again after a rewrite).
    for (const file of FILES) {
      if ((await lstat(join(this.dir, file)).catch(() => undefined))?.isSymbolicLink()) continue;
      await symlink(join('..data', file), join(this.dir, `${file}.tmp`));
      await rename(join(this.dir, `${file}.tmp`), join(this.dir, file));
    }
    for (const entry of await readdir(this.dir)) {
      if (/^\.\.\d/.test(entry) && entry !== version) await rm(join(this.dir, entry), { recursive: true });
    }
  }

  private async rewrite(pair: Record<(typeof FILES)[number], string>): Promise<void> {
    // Plain files first (a copy of the pair in use, so nothing changes), then written in place.
    for (const file of FILES) {
      const path = join(this.dir, file);
      if (!(await lstat(path)).isSymbolicLink()) continue;
      await writeFile(`${path}.tmp`, await readFile(path), { mode: 0o600 });
      await rename(`${path}.tmp`, path);
    }
    await writeFile(this.keyFile, pair['tls.key']);
    await writeFile(this.certFile, pair['tls.crt']);
  }
}
