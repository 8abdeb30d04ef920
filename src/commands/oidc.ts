// `oidc`: writes the issuer documents AWS IAM reads from a self-hosted issuer (an S3 bucket):
// `<dir>/.well-known/openid-configuration` and `<dir>/keys.json`.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DISCOVERY_PATH, JWKS_FILE, oidcDocuments, type OidcDocuments } from '../irsa/oidc.js';
import { readText } from '../read-text.js';

export interface OidcFlags {
  issuer: string;
  publicKeys: string[];
  outputDir: string;
}

export interface OidcResult extends OidcDocuments {
  /** The files written, discovery document first. */
  files: string[];
}

export async function writeOidcDocuments(flags: OidcFlags): Promise<OidcResult> {
  const inputs = await Promise.all(
    flags.publicKeys.map(async (file) => ({ text: await readText(file), origin: file })),
  );
  const documents = await oidcDocuments(flags.issuer, inputs);
  const discoveryFile = join(flags.outputDir, DISCOVERY_PATH);
  const jwksFile = join(flags.outputDir, JWKS_FILE);
  await mkdir(dirname(discoveryFile), { recursive: true });
  await writeFile(discoveryFile, `${JSON.stringify(documents.discovery, null, 2)}\n`);
  await writeFile(jwksFile, `${JSON.stringify(documents.jwks, null, 2)}\n`);
  return { ...documents, files: [discoveryFile, jwksFile] };
}
