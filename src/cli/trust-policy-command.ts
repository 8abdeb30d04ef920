// `trust-policy` (print a role trust policy) and `trust-policy check` (would a token be accepted?).
//
// The flags both share (--issuer, --namespace, --service-account, --audience, --account,
// --partition, --provider-arn) belong to `trust-policy`: commander parses a parent's options before
// it dispatches to a subcommand, wherever they stand, so `check` reads them as global options and
// adds only --policy. `trust-policy check --help` lists both.
import { Command, type CommanderError } from 'commander';
import { collect, fail } from './output.js';

const list = (flags: Record<string, unknown>, key: string): string[] =>
  (flags[key] as string[] | undefined) ?? [];

/** `check` answers bad input with exit status 2, usage errors included; everything else with 1. */
const exitCode = (error: CommanderError, check: boolean): number =>
  error.exitCode === 0 ? 0 : check ? 2 : 1;

/** The one value of a repeatable flag, for `check`. */
function single(flags: Record<string, unknown>, key: string, flag: string): string {
  const values = list(flags, key);
  if (values.length !== 1) {
    throw new Error(`${flag} is required once for check${values.length > 1 ? `, got ${values.length}` : ''}`);
  }
  return values[0]!;
}

/** Adds `trust-policy` and its `check` subcommand to the program. */
export function addTrustPolicyCommand(program: Command): void {
  const trustPolicy = program
    .command('trust-policy')
    .description('print the IAM role trust policy for ServiceAccounts; check: test a policy against one')
    .exitOverride((error) => process.exit(exitCode(error, process.argv.includes('check'))))
    .option(
      '--account <id>',
      'account of the OIDC provider, which is the role’s account (cross-account: register the cluster’s issuer as an OIDC provider in the role’s account)',
    )
    .option('--issuer <url>', 'the cluster’s service-account issuer URL (https://...)')
    .option(
      '--namespace <ns>',
      'namespace (* and ? are wildcards); repeatable: one for every --service-account, or one each, paired in order',
      collect,
    )
    .option(
      '--service-account <name>',
      'ServiceAccount name or NS/NAME (* and ? are wildcards); repeatable',
      collect,
    )
    .option('--audience <aud>', 'token audience, repeatable (default: sts.amazonaws.com)', collect)
    .option('--partition <partition>', 'AWS partition: aws (default), aws-cn, aws-us-gov, ...')
    .option('--provider-arn <arn>', 'the OIDC provider ARN whole, instead of --account and --partition')
    .addHelpText(
      'after',
      '\nSubjects with * or ? get a StringLike statement, the others a StringEquals one; every statement also requires the audience.',
    )
    .action(async (flags: Record<string, unknown>) => {
      try {
        const { trustPolicyText } = await import('../commands/trust-policy.js');
        process.stdout.write(
          trustPolicyText({
            account: flags['account'] as string | undefined,
            issuer: flags['issuer'] as string | undefined,
            providerArn: flags['providerArn'] as string | undefined,
            partition: flags['partition'] as string | undefined,
            namespaces: list(flags, 'namespace'),
            serviceAccounts: list(flags, 'serviceAccount'),
            audiences: list(flags, 'audience'),
          }),
        );
      } catch (error) {
        fail(error, 1);
      }
    });

  trustPolicy
    .command('check')
    .description(
      'say whether a token of one ServiceAccount (--issuer, --namespace, --service-account, --audience) would be accepted: exit status 0 accepted, 1 refused (the reason and hints on stdout), 2 bad input',
    )
    .configureHelp({ showGlobalOptions: true })
    .exitOverride((error) => process.exit(exitCode(error, true)))
    .requiredOption('--policy <file>', 'the trust policy (JSON)')
    .addHelpText(
      'after',
      '\n--account and --partition default to those of the policy’s OIDC provider ARN for --issuer.',
    )
    .action(async (_flags: Record<string, unknown>, command: Command) => {
      try {
        const flags = command.optsWithGlobals<Record<string, unknown>>();
        if (flags['issuer'] === undefined) throw new Error('--issuer is required for check');
        const { checkTrustPolicy } = await import('../commands/trust-policy.js');
        const result = await checkTrustPolicy({
          policy: flags['policy'] as string,
          issuer: flags['issuer'] as string,
          namespace: single(flags, 'namespace', '--namespace'),
          serviceAccount: single(flags, 'serviceAccount', '--service-account'),
          audiences: list(flags, 'audience'),
          account: flags['account'] as string | undefined,
          partition: flags['partition'] as string | undefined,
          providerArn: flags['providerArn'] as string | undefined,
        });
        process.stdout.write(result.text);
        process.exitCode = result.code;
      } catch (error) {
        fail(error, 2);
      }
    });
}
