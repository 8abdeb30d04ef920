// `oidc`: the issuer documents for a self-hosted (S3) service-account issuer.
import type { Command } from 'commander';
import { collect, fail } from './output.js';

export function addOidcCommand(program: Command): Command {
  return program
    .command('oidc')
    .description(
      'write <dir>/.well-known/openid-configuration and <dir>/keys.json for a self-hosted (e.g. S3) service-account issuer',
    )
    .requiredOption('--issuer <url>', 'the issuer URL, exactly as kube-apiserver’s --service-account-issuer')
    .requiredOption(
      '--public-key <file>',
      'service-account public key (PEM: RSA or EC public key, private key or certificate); repeatable',
      collect,
    )
    .requiredOption(
      '--output-dir <dir>',
      'where to write the documents (upload its contents to the issuer URL)',
    )
    .action(async (flags: { issuer: string; publicKey: string[]; outputDir: string }) => {
      try {
        const { writeOidcDocuments } = await import('../commands/oidc.js');
        const result = await writeOidcDocuments({
          issuer: flags.issuer,
          publicKeys: flags.publicKey,
          outputDir: flags.outputDir,
        });
        const kids = result.jwks.keys.map((key) => `${String(key.kid)} (${String(key.alg)})`);
        process.stdout.write(
          `${result.files.map((file) => `wrote ${file}`).join('\n')}\nkeys: ${kids.join(', ')}\n`,
        );
      } catch (error) {
        fail(error);
      }
    });
}
