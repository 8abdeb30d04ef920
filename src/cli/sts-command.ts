// `sts`: a local STS endpoint for AssumeRoleWithWebIdentity that checks what AWS STS checks.
import { Command, Option } from 'commander';
import type { StsFlags } from '../commands/sts.js';
import { LOG_LEVELS } from '../log.js';
import { DEFAULT_TOKEN_AUDIENCE } from '../vocabulary.js';
import { arg, parseInteger } from './flags.js';
import { collect, fail } from './output.js';

export const DEFAULT_STS_PORT = 8088;

/** As commander hands them over: the repeatable flag is named as the user types it. */
type Flags = Omit<StsFlags, 'audiences'> & { audience?: string[] };

export function addStsCommand(program: Command): Command {
  return program
    .command('sts')
    .description(
      'a local AWS STS endpoint: AssumeRoleWithWebIdentity, verifying the token and the role’s trust policy as AWS does',
    )
    .option(
      '--port <port>',
      'port (0: any free port, logged)',
      arg((f, v) => parseInteger(f, v, 0, 65535), '--port'),
      DEFAULT_STS_PORT,
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .requiredOption('--issuer <url>', 'the OIDC issuer: a token’s iss must equal it exactly')
    .addOption(new Option('--jwks <file>', 'the issuer’s JWKS (JSON file)').conflicts('jwksUrl'))
    .option('--jwks-url <url>', 'fetch the JWKS from this URL, e.g. https://<api-server>/openid/v1/jwks')
    .option('--jwks-ca <file>', 'CA bundle (PEM) to verify --jwks-url with')
    .option('--jwks-token-file <file>', 'bearer token for --jwks-url (re-read for every fetch)')
    .requiredOption('--roles <file>', 'roles (YAML or JSON): a list of {arn, trustPolicy}')
    .option(
      '--audience <audience>',
      `a client ID of the OIDC provider; repeatable (default: ${DEFAULT_TOKEN_AUDIENCE})`,
      collect,
    )
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'key of --tls-cert (PEM)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (flags: Flags) => {
      try {
        const { stsUntilSignalled } = await import('../commands/sts.js');
        await stsUntilSignalled({
          port: flags.port,
          host: flags.host,
          issuer: flags.issuer,
          jwks: flags.jwks,
          jwksUrl: flags.jwksUrl,
          jwksCa: flags.jwksCa,
          jwksTokenFile: flags.jwksTokenFile,
          roles: flags.roles,
          audiences: flags.audience ?? [DEFAULT_TOKEN_AUDIENCE],
          tlsCert: flags.tlsCert,
          tlsKey: flags.tlsKey,
          logLevel: flags.logLevel,
        });
      } catch (error) {
        fail(error);
      }
    });
}
