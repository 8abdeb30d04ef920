import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueCertificate } from '../../scripts/pki.mjs';

export interface TestCertificates {
  dir: string;
  ca: string;
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** A fresh CA and a serving certificate for 127.0.0.1 and localhost, in a temporary directory. */
export async function testCertificates(commonName = 'webhook-test'): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'piw-tls-'));
  const ca = await createCA(dir, 'ca', `${commonName} CA`);
  const pair = await issueCertificate(dir, 'tls', ca, { commonName, hosts: ['127.0.0.1', 'localhost'] });
  return {
    dir,
    ca: await readFile(ca.cert, 'utf8'),
    certFile: pair.cert,
    keyFile: pair.key,
    cert: await readFile(pair.cert, 'utf8'),
    key: await readFile(pair.key, 'utf8'),
  };
}
