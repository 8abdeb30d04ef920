#!/usr/bin/env node
// argv → one command. Flag names and defaults follow the Go webhook where it has them.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { FORMATS, mutate, OUTPUTS, readInput, type Format, type Output } from '../commands/mutate.js';
import { serveUntilSignalled, SHUTDOWN_TIMEOUT_MS } from '../commands/serve.js';
import {
  DEFAULT_MUTATION_OPTIONS as D,
  resolveMutationOptions,
  type ResolvedOptions,
} from '../identity/options.js';
import { LOG_LEVELS } from '../log.js';
import { TLS_VERSIONS } from '../server/tls.js';
import {
  arg,
  formatDuration,
  goBooleanArgs,
  parseBoundedDuration,
  parseInteger,
  parseSeconds,
} from './flags.js';
import { BUILTIN, builtinOnlyWarnings, CERTIFICATE_MODES, certificateFlags } from './certificate-flags.js';
import { GO_BOOLEAN_FLAGS, goFlagWarnings, withGoFlags } from './go-flags.js';
import { addDoctorCommand } from './doctor-command.js';
import { addOidcCommand } from './oidc-command.js';
import { addStsCommand } from './sts-command.js';
import { addTrustPolicyCommand } from './trust-policy-command.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const BOOLEAN_FLAGS = new Set(['--sts-regional-endpoint', ...GO_BOOLEAN_FLAGS]);

const port = (flag: string) => arg((f, v) => parseInteger(f, v, 0, 65535), flag);

/** A duration flag: parsed as a Go duration, its default shown in --help as the flag takes it. */
function durationOption(flags: string, description: string, defaultMs: number, maxMs: number): Option {
  const flag = flags.split(' ')[0]!;
  return new Option(flags, description)
    .argParser(arg((f, v) => parseBoundedDuration(f, v, maxMs), flag))
    .default(defaultMs, formatDuration(defaultMs));
}

function withMutationFlags(command: Command): Command {
  return command
    .option(
      '--annotation-prefix <prefix>',
      'prefix of the ServiceAccount and Pod annotations',
      D.annotationPrefix,
    )
    .option('--token-audience <audience>', 'audience of the projected token', D.tokenAudience)
    .option('--token-mount-path <path>', 'where the token volume is mounted', D.tokenMountPath)
    .option(
      '--token-expiration <seconds>',
      'projected token lifetime (at least 600: a lower value is raised to it)',
      arg(parseSeconds, '--token-expiration'),
      D.tokenExpiration,
    )
    .option(
      '--aws-default-region <region>',
      'inject AWS_DEFAULT_REGION and AWS_REGION (empty: none)',
      D.awsDefaultRegion,
    )
    .option(
      '--sts-regional-endpoint',
      'inject AWS_STS_REGIONAL_ENDPOINTS=regional (or --sts-regional-endpoint=false)',
      D.stsRegionalEndpoint,
    )
    .addOption(new Option('--no-sts-regional-endpoint').hideHelp())
    .option(
      '--sts-endpoint <url>',
      'inject AWS_ENDPOINT_URL_STS, e.g. a local STS (empty: none)',
      D.stsEndpoint,
    );
}

function mutationOptions(flags: Record<string, unknown>): ResolvedOptions {
  return resolveMutationOptions({
    annotationPrefix: flags['annotationPrefix'] as string,
    tokenAudience: flags['tokenAudience'] as string,
    tokenMountPath: flags['tokenMountPath'] as string,
    tokenExpiration: flags['tokenExpiration'] as number,
    awsDefaultRegion: flags['awsDefaultRegion'] as string,
    stsRegionalEndpoint: flags['stsRegionalEndpoint'] === true,
    stsEndpoint: flags['stsEndpoint'] as string,
  });
}

function fail(error: unknown): never {
  process.stderr.write(`pod-identity-webhook: ${(error as Error).message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

const printWarning = (warning: string): boolean =>
  process.stderr.write(`pod-identity-webhook: warning: ${warning}\n`);

const program = new Command('pod-identity-webhook')
  .description('Mutating admission webhook that gives Pods AWS IAM roles through their ServiceAccount (IRSA)')
  .version(version, '--version')
  // Usage errors are one line, like every other error: `pod-identity-webhook: <what is wrong>`.
  .configureOutput({
    outputError: (text, write) => write(`pod-identity-webhook: ${text.replace(/^error: /, '').trim()}\n`),
  });

withGoFlags(withMutationFlags(program.command('serve').description('run the HTTPS webhook')))
  .option('--port <port>', 'HTTPS port', port('--port'), 8443)
  .option('--metrics-port <port>', 'plain-HTTP port for /metrics', port('--metrics-port'), 9999)
  .option(
    '--tls-cert <file>',
    'serving certificate (PEM); reloaded when it changes',
    '/etc/webhook/certs/tls.crt',
  )
  .option('--tls-key <file>', 'serving key (PEM); reloaded when it changes', '/etc/webhook/certs/tls.key')
  .addOption(
    new Option('--tls-min-version <version>', 'minimum TLS version')
      .choices(Object.keys(TLS_VERSIONS))
      .default('1.2'),
  )
  .addOption(
    new Option(
      '--certificates <mode>',
      'files: --tls-cert and --tls-key; builtin: the webhook keeps its own CA and serving certificate in --tls-secret and the caBundle of --webhook-configuration',
    )
      .choices(CERTIFICATE_MODES)
      .default('files'),
  )
  .option(
    '--tls-secret <name>',
    `builtin: the Secret holding the CA and serving certificate (default: ${BUILTIN.secretName})`,
  )
  .option(
    '--namespace <namespace>',
    'builtin: namespace of the Secret and the Service (default: the Pod’s own)',
  )
  .option(
    '--service-name <name>',
    `builtin: the Service the certificate names (default: ${BUILTIN.serviceName})`,
  )
  .option(
    '--webhook-configuration <name>',
    `builtin: the MutatingWebhookConfiguration whose caBundle is kept current (default: ${BUILTIN.webhookConfiguration})`,
  )
  .option(
    '--certificate-hosts <hosts>',
    'builtin: more DNS names or IPs for the serving certificate, comma-separated',
    (value: string) =>
      value
        .split(',')
        .map((host) => host.trim())
        .filter((host) => host !== ''),
  )
  .addOption(
    durationOption(
      '--ca-validity <duration>',
      'builtin: CA lifetime; renewed with a third left',
      BUILTIN.caValidityMs,
      Infinity,
    ),
  )
  .addOption(
    durationOption(
      '--certificate-validity <duration>',
      'builtin: serving certificate lifetime; renewed with a third left',
      BUILTIN.certificateValidityMs,
      Infinity,
    ),
  )
  .option(
    '--kubeconfig <file>',
    'kubeconfig (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)',
  )
  .option('--service-accounts <file>', 'read ServiceAccounts from this YAML/JSON file instead of the cluster')
  .addOption(
    durationOption(
      '--service-account-lookup-grace-period <duration>',
      'how long a cache miss may wait for a live lookup (0: no live lookup)',
      1000,
      30_000, // kube-apiserver waits at most 30s for a webhook.
    ),
  )
  .addOption(
    durationOption(
      '--shutdown-delay <duration>',
      'after SIGTERM, how long to keep serving while /readyz fails, so endpoints drop the Pod first',
      2000,
      SHUTDOWN_TIMEOUT_MS / 2,
    ),
  )
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .action(async (flags: Record<string, unknown>) => {
    try {
      const { options, warnings } = mutationOptions(flags);
      await serveUntilSignalled(
        {
          port: flags['port'] as number,
          metricsPort: flags['metricsPort'] as number,
          tlsCert: flags['tlsCert'] as string,
          tlsKey: flags['tlsKey'] as string,
          tlsMinVersion: flags['tlsMinVersion'] as string,
          kubeconfig: flags['kubeconfig'] as string | undefined,
          serviceAccounts: flags['serviceAccounts'] as string | undefined,
          serviceAccountLookupGracePeriod: flags['serviceAccountLookupGracePeriod'] as number,
          shutdownDelay: flags['shutdownDelay'] as number,
          logLevel: flags['logLevel'] as LevelWithSilent,
          ...certificateFlags(flags),
        },
        options,
        [...warnings, ...goFlagWarnings(flags), ...builtinOnlyWarnings(flags)],
      );
    } catch (error) {
      fail(error);
    }
  });

withMutationFlags(
  program
    .command('mutate')
    .description('print the webhook’s answer for an AdmissionReview or a bare Pod (JSON or YAML), offline')
    .argument('[file]', 'input file, or - for stdin', '-'),
)
  .option(
    '--service-accounts <file>',
    'ServiceAccounts (YAML/JSON: one object, several documents, or a List)',
  )
  .option('--namespace <namespace>', 'namespace of a bare Pod', 'default')
  .addOption(new Option('--output <what>', 'what to print').choices(OUTPUTS).default('review'))
  .addOption(
    new Option('--format <format>', 'how to print it (default: the format of the input)').choices(FORMATS),
  )
  .action(async (file: string, flags: Record<string, unknown>) => {
    try {
      const { options, warnings } = mutationOptions(flags);
      const input = await readInput(file);
      const result = await mutate(
        input,
        {
          serviceAccounts: flags['serviceAccounts'] as string | undefined,
          namespace: flags['namespace'] as string,
          output: flags['output'] as Output,
          format: flags['format'] as Format | undefined,
        },
        options,
      );
      [...warnings, ...result.warnings].forEach(printWarning);
      process.stdout.write(result.text);
    } catch (error) {
      fail(error);
    }
  });

// The IRSA toolkit: what AWS needs to trust the cluster's tokens, and a local STS to try it with.
addOidcCommand(program);
addTrustPolicyCommand(program);
addStsCommand(program);
addDoctorCommand(program);

try {
  await program.parseAsync(goBooleanArgs(process.argv, BOOLEAN_FLAGS));
} catch (error) {
  fail(error);
}
