#!/usr/bin/env node
// argv → one command. Flag names and defaults follow the Go webhook where it has them.
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { mutate, OUTPUTS, readInput, type Output } from './commands/mutate.js';
import { serveUntilSignalled, SHUTDOWN_TIMEOUT_MS } from './commands/serve.js';
import { goFlagWarnings, withGoFlags } from './go-flags.js';
import { LOG_LEVELS } from './log.js';
import {
  boundTokenExpiration,
  DEFAULT_MUTATION_OPTIONS as D,
  MAX_TOKEN_EXPIRATION,
  parseBoolean,
  parseBoundedDuration,
  parseInteger,
  validateMutationOptions,
  type MutationOptions,
} from './options.js';
import { TLS_VERSIONS } from './server/tls.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Wraps an options.ts parser so commander reports its message as a usage error. */
function arg<T>(parse: (flag: string, value: string) => T, flag: string): (value: string) => T {
  return (value) => {
    try {
      return parse(flag, value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

const port = (flag: string) => arg((f, v) => parseInteger(f, v, 0, 65535), flag);

/** What the command line asked for but got otherwise; `serve` logs these, `mutate` prints them. */
const startupWarnings: string[] = [];

/** As in the Go webhook, a lifetime below Kubernetes' minimum is raised to it, not refused. */
function tokenExpiration(flag: string, value: string): number {
  const bounded = boundTokenExpiration(flag, parseInteger(flag, value, 0, MAX_TOKEN_EXPIRATION));
  if (bounded.warning !== undefined) startupWarnings.push(bounded.warning);
  return bounded.seconds;
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
      'projected token lifetime',
      arg(tokenExpiration, '--token-expiration'),
      D.tokenExpiration,
    )
    .option(
      '--aws-default-region <region>',
      'inject AWS_DEFAULT_REGION and AWS_REGION (empty: none)',
      D.awsDefaultRegion,
    )
    .addOption(
      new Option('--sts-regional-endpoint [bool]', 'inject AWS_STS_REGIONAL_ENDPOINTS=regional')
        .default(D.stsRegionalEndpoint)
        .argParser(arg(parseBoolean, '--sts-regional-endpoint')),
    );
}

function mutationOptions(flags: Record<string, unknown>): MutationOptions {
  return validateMutationOptions({
    annotationPrefix: flags['annotationPrefix'] as string,
    tokenAudience: flags['tokenAudience'] as string,
    tokenMountPath: flags['tokenMountPath'] as string,
    tokenExpiration: flags['tokenExpiration'] as number,
    awsDefaultRegion: flags['awsDefaultRegion'] as string,
    stsRegionalEndpoint: flags['stsRegionalEndpoint'] === true,
  });
}

function fail(error: unknown): never {
  process.stderr.write(`pod-identity-webhook: ${(error as Error).message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

const program = new Command('pod-identity-webhook')
  .description('Mutating admission webhook that gives Pods AWS IAM roles through their ServiceAccount (IRSA)')
  .version(version, '--version')
  // Usage errors are one line, like every other error: `pod-identity-webhook: <what is wrong>`.
  .configureOutput({
    outputError: (text, write) => write(`pod-identity-webhook: ${text.replace(/^error: /, '').trim()}\n`),
  });

withGoFlags(withMutationFlags(program.command('serve').description('run the HTTPS webhook')), (flag) =>
  arg(parseBoolean, flag),
)
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
  .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster config, else ~/.kube/config)')
  .option('--service-accounts <file>', 'read ServiceAccounts from this YAML/JSON file instead of the cluster')
  .option(
    '--service-account-lookup-grace-period <duration>',
    'how long a cache miss may wait for a live lookup (0: no live lookup)',
    // kube-apiserver waits at most 30s for a webhook.
    arg((f, v) => parseBoundedDuration(f, v, 30_000, '30s'), '--service-account-lookup-grace-period'),
    1000,
  )
  .option(
    '--shutdown-delay <duration>',
    'after SIGTERM, how long to keep serving while /readyz fails, so endpoints drop the Pod first',
    arg(
      (f, v) => parseBoundedDuration(f, v, SHUTDOWN_TIMEOUT_MS / 2, `${SHUTDOWN_TIMEOUT_MS / 2000}s`),
      '--shutdown-delay',
    ),
    2000,
  )
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .action(async (flags: Record<string, unknown>) => {
    try {
      startupWarnings.push(...goFlagWarnings(flags));
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
          startupWarnings,
        },
        mutationOptions(flags),
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
  .addOption(new Option('--output <format>', 'what to print').choices(OUTPUTS).default('review'))
  .action(async (file: string, flags: Record<string, unknown>) => {
    try {
      const { text, origin } = await readInput(file);
      const output = await mutate(
        text,
        origin,
        {
          serviceAccounts: flags['serviceAccounts'] as string | undefined,
          namespace: flags['namespace'] as string,
          output: flags['output'] as Output,
        },
        mutationOptions(flags),
      );
      for (const warning of startupWarnings)
        process.stderr.write(`pod-identity-webhook: warning: ${warning}\n`);
      process.stdout.write(output);
    } catch (error) {
      fail(error);
    }
  });

await program.parseAsync();
