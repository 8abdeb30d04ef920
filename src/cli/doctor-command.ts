// `doctor`'s flags. The command itself (and @kubernetes/client-node with it) is loaded only when
// `doctor` runs, so other commands do not pay for it. Exit status: 0 all well, 1 something needs
// attention, 2 bad input or a cluster that cannot be reached.
import { CommanderError, Option, type Command } from 'commander';
import { OUTPUT_FORMATS, type OutputFormat } from '../irsa/doctor.js';
import { DEFAULT_ANNOTATION_PREFIX } from '../vocabulary.js';
import { fail } from './output.js';

const BAD_INPUT = 2;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'find what keeps Pods from their AWS roles in a live cluster: Pods that missed the webhook, mistyped annotations, the webhook configuration, its Service and certificate, and (given --check-token) the token AWS would verify; read-only unless --restart',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)',
    )
    .option('--namespace <namespace>', 'check Pods and ServiceAccounts of this namespace only (default: all)')
    .option(
      '--annotation-prefix <prefix>',
      'prefix of the ServiceAccount and Pod annotations (as the webhook’s)',
      DEFAULT_ANNOTATION_PREFIX,
    )
    .option(
      '--webhook-configuration <name>',
      'the MutatingWebhookConfiguration to check (default: every one with a webhook named pod-identity-webhook.amazonaws.com or a Service named pod-identity-webhook)',
    )
    .option(
      '--restart',
      'roll the Deployments, StatefulSets and DaemonSets whose Pods were not mutated (as kubectl rollout restart)',
      false,
    )
    .option('--issuer <url>', 'the issuer of the IAM OIDC provider (default: the cluster’s own)')
    .option('--jwks <file-or-url>', 'the JWKS AWS reads (default: the cluster’s /openid/v1/jwks)')
    .option(
      '--audience <audience>',
      'audience for --check-token (default: the ServiceAccount’s, else sts.amazonaws.com)',
    )
    .option(
      '--check-token <namespace/name>',
      'request a short-lived token for this ServiceAccount and check it verifies (kid, signature, issuer, audience)',
    )
    .addOption(new Option('--output <format>', 'text or json').choices(OUTPUT_FORMATS).default('text'))
    .exitOverride((error: CommanderError) => {
      // --help is not an error; every usage error is bad input.
      if (error.exitCode === 0) process.exit(0);
      process.exit(BAD_INPUT);
    })
    .action(async (flags: Record<string, unknown>) => {
      const { runDoctor, DoctorInputError } = await import('../commands/doctor.js');
      try {
        const result = await runDoctor({
          kubeconfig: flags['kubeconfig'] as string | undefined,
          namespace: flags['namespace'] as string | undefined,
          annotationPrefix: flags['annotationPrefix'] as string,
          webhookConfiguration: flags['webhookConfiguration'] as string | undefined,
          restart: flags['restart'] === true,
          issuer: flags['issuer'] as string | undefined,
          jwks: flags['jwks'] as string | undefined,
          audience: flags['audience'] as string | undefined,
          checkToken: flags['checkToken'] as string | undefined,
          output: flags['output'] as OutputFormat,
        });
        process.stdout.write(result.text);
        process.exitCode = result.exitCode;
      } catch (error) {
        // DoctorInputError: bad input or no cluster; anything else also kept doctor from answering.
        fail(error instanceof DoctorInputError ? error.message : describe(error), BAD_INPUT);
      }
    });
}
