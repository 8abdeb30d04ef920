#!/usr/bin/env node
// Writes development certificates for `npm start` into certs/ (git-ignored): a CA and a serving
// certificate for localhost and 127.0.0.1. Existing files are kept unless --force is given.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createCA, issueCertificate } from './pki.mjs';

const dir = fileURLToPath(new URL('../certs/', import.meta.url));
const force = process.argv.includes('--force');

if (!force && existsSync(`${dir}tls.crt`) && existsSync(`${dir}tls.key`)) {
  console.error(`certs: keeping existing ${dir}tls.crt (use --force to regenerate)`);
} else {
  const ca = await createCA(dir);
  await issueCertificate(dir, 'tls', ca, {
    commonName: 'localhost',
    hosts: ['localhost', '127.0.0.1', '::1'],
  });
  console.error(`certs: wrote ${dir}ca.crt, ${dir}tls.crt and ${dir}tls.key`);
}
