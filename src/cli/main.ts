#!/usr/bin/env node
// argv → one command. Flag names and defaults follow the Go webhook where it has them.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { FORMATS, OUTPUTS, type Format, type Output } from '../commands/mutate-formats.js';
import { serveUntilSignalled, SHUTDOWN_TIMEOUT_MS } from '../commands/serve.js';
import {
  DEFAULT_MUTATION_OPTIONS as D,
  MAX_GROUP_ID,
  resolveMutationOptions,
  type ResolvedOptions,
} from '../identity/options.js';
import { composeRoleArnOptions } from './imds.js';
import { LOG_LEVELS } from '../log.js';
import { cipherSuitesFromGo } from '../server/tls.js';
import {
  arg,
  formatDuration,
  goBooleanArgs,
  parseBoundedDuration,
  parseInteger,
  parseSeconds,
} from './flags.js';
import {
  BUILTIN,
  builtinOnlyWarnings,
  CERTIFICATE_MODES,
  certificateFlags,
  configMapNamespace,
} from './certificate-flags.js';
import {
  GO_BOOLEAN_FLAGS,
  GO_DEFAULT_PORT,
  GO_TLS_MIN_VERSIONS,
  goFlagWarnings,
  goStyleArgs,
  isGoStyleInvocation,
  parseTlsMinVersion,
  tlsMinVersion,
  withGoFlags,
} from './go-flags.js';
import { addDoctorCommand } from './doctor-command.js';
import { addOidcCommand } from './oidc-command.js';
import { addStsCommand } from './sts-command.js';
import { fail } from './output.js';
import { addTrustPolicyCommand } from './trust-policy-command.js';
import { slimClientNode } from './slim-client-node.js';

// Before anything loads @kubernetes/client-node (serve and doctor import it lazily).
slimClientNode();

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const BOOLEAN_FLAGS = new Set([
  '--sts-regional-endpoint',
  '--role-session-name-from-pod',
  '--region-without-role',
  '--allow-pod-role-arn',
  '--watch-config-map',
  '--compose-role-arn',
  ...GO_BOOLEAN_FLAGS,
]);

const port = (flag: string) => arg((f, v) => parseInteger(f, v, 0, 65535), flag);

/** Flags and no subcommand: the Go webhook's command line (its manifests' `/webhook --flags`), so `serve` with its port. */
const goStyle = isGoStyleInvocation(process.argv);

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
    )
    .option(
      '--min-token-expiration <seconds>',
      'token lifetimes below it are raised to it, with a warning (at least 600)',
      arg(parseSeconds, '--min-token-expiration'),
      D.minTokenExpiration,
    )
    .addOption(
      new Option(
        '--max-token-expiration <seconds>',
        'token lifetimes above it are lowered to it, with a warning',
      )
        .argParser(arg(parseSeconds, '--max-token-expiration'))
        .default(D.maxTokenExpiration, `${D.maxTokenExpiration}, the API server's own limit`),
    )
    .option(
      '--fs-group <gid>',
      'set spec.securityContext.fsGroup of Pods that get a role and set none (default: none)',
      arg((f, v) => parseInteger(f, v, 0, MAX_GROUP_ID), '--fs-group'),
    )
    .option(
      '--role-session-name-from-pod',
      "inject AWS_ROLE_SESSION_NAME from the Pod's name (or --role-session-name-from-pod=false)",
      D.roleSessionNameFromPod,
    )
    .addOption(new Option('--no-role-session-name-from-pod').hideHelp())
    .option(
      '--region-without-role',
      'inject the region variables also into Pods whose ServiceAccount has no role',
      D.regionWithoutRole,
    )
    .addOption(new Option('--no-region-without-role').hideHelp())
    .option(
      '--allow-pod-role-arn',
      "let a Pod's role-arn annotation pick a role its ServiceAccount lists in allowed-role-arns",
      D.allowPodRoleArn,
    )
    .addOption(new Option('--no-allow-pod-role-arn').hideHelp())
    .option(
      '--compose-role-arn',
      'a role-arn annotation without arn: is a role name (or path/name) in --aws-account-id; the partition from --aws-default-region (either one missing: from the EC2 instance metadata service)',
      D.composeRoleArn,
    )
    .addOption(new Option('--no-compose-role-arn').hideHelp())
    .option(
      '--aws-account-id <id>',
      'with --compose-role-arn: the account of composed role ARNs',
      D.awsAccountId,
    )
    .option(
      '--watch-container-credentials-config <file>',
      'EKS Pod Identity: JSON {"identities":[{"namespace","serviceAccount"}]}; these ServiceAccounts get container credentials instead of a role (serve reloads it when it changes)',
    )
    .option(
      '--container-credentials-audience <audience>',
      'EKS Pod Identity: audience of the projected token',
      D.containerCredentialsAudience,
    )
    .option(
      '--container-credentials-token-mount-path <path>',
      'EKS Pod Identity: where the token volume is mounted',
      D.containerCredentialsTokenMountPath,
    )
    .option(
      '--container-credentials-token-volume-name <name>',
      'EKS Pod Identity: name of the projected token volume',
      D.containerCredentialsTokenVolumeName,
    )
    .option(
      '--container-credentials-token-path <path>',
      'EKS Pod Identity: the token file inside the mount',
      D.containerCredentialsTokenPath,
    )
    .option(
      '--container-credentials-full-uri <uri>',
      'EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI',
      D.containerCredentialsFullUri,
    );
}

/** The mutation options of the flags; with --compose-role-arn, may ask the instance metadata service. */
async function mutationOptions(flags: Record<string, unknown>): Promise<ResolvedOptions> {
  const composed = await composeRoleArnOptions({
    composeRoleArn: flags['composeRoleArn'] === true,
    awsAccountId: flags['awsAccountId'] as string,
    awsDefaultRegion: flags['awsDefaultRegion'] as string,
  });
  return resolveMutationOptions({
    ...composed,
    annotationPrefix: flags['annotationPrefix'] as string,
    tokenAudience: flags['tokenAudience'] as string,
    tokenMountPath: flags['tokenMountPath'] as string,
    tokenExpiration: flags['tokenExpiration'] as number,
    awsDefaultRegion: flags['awsDefaultRegion'] as string,
    stsRegionalEndpoint: flags['stsRegionalEndpoint'] === true,
    stsEndpoint: flags['stsEndpoint'] as string,
    minTokenExpiration: flags['minTokenExpiration'] as number,
    maxTokenExpiration: flags['maxTokenExpiration'] as number,
    fsGroup: flags['fsGroup'] as number | undefined,
    roleSessionNameFromPod: flags['roleSessionNameFromPod'] === true,
    regionWithoutRole: flags['regionWithoutRole'] === true,
    allowPodRoleArn: flags['allowPodRoleArn'] === true,
    containerCredentialsAudience: flags['containerCredentialsAudience'] as string,
    containerCredentialsTokenMountPath: flags['containerCredentialsTokenMountPath'] as string,
    containerCredentialsTokenVolumeName: flags['containerCredentialsTokenVolumeName'] as string,
    containerCredentialsTokenPath: flags['containerCredentialsTokenPath'] as string,
    containerCredentialsFullUri: flags['containerCredentialsFullUri'] as string,
  });
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

const serveCommand = withGoFlags(
  withMutationFlags(program.command('serve').description('run the HTTPS webhook')),
)
  .addOption(
    new Option('--port <port>', `HTTPS port (${GO_DEFAULT_PORT} without a subcommand, as the Go webhook)`)
      .argParser(port('--port'))
      .default(goStyle ? GO_DEFAULT_PORT : 8443),
  )
  .option('--metrics-port <port>', 'plain-HTTP port for /metrics', port('--metrics-port'), 9999)
  .option(
    '--tls-cert <file>',
    'serving certificate (PEM); reloaded when it changes',
    '/etc/webhook/certs/tls.crt',
  )
  .option('--tls-key <file>', 'serving key (PEM); reloaded when it changes', '/etc/webhook/certs/tls.key')
  .addOption(
    new Option(
      '--tls-min-version <version>',
      `minimum TLS version: ${GO_TLS_MIN_VERSIONS.join(', ')} (1.0 and 1.1 are raised to 1.2)`,
    )
      .argParser(arg(parseTlsMinVersion, '--tls-min-version'))
      .default('1.2'),
  )
  .option(
    '--tls-cipher-suites <suites>',
    'TLS 1.2 cipher suites by their Go names, comma-separated, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (default: Node’s; TLS 1.3 suites are not configurable)',
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
    'builtin: namespace of the Secret and the Service; --watch-config-map: of the ConfigMap (default: the Pod’s own)',
  )
  .option(
    '--watch-config-map',
    'map ServiceAccounts without a role annotation to roles from the ConfigMap pod-identity-webhook in --namespace (key config)',
    false,
  )
  .addOption(new Option('--no-watch-config-map').hideHelp())
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
      const { options, warnings } = await mutationOptions(flags);
      const tls = tlsMinVersion(flags['tlsMinVersion'] as string);
      const suites = cipherSuitesFromGo((flags['tlsCipherSuites'] as string | undefined) ?? '');
      await serveUntilSignalled(
        {
          port: flags['port'] as number,
          metricsPort: flags['metricsPort'] as number,
          tlsCert: flags['tlsCert'] as string,
          tlsKey: flags['tlsKey'] as string,
          tlsMinVersion: tls.version,
          ...(suites.ciphers === undefined ? {} : { tlsCiphers: suites.ciphers }),
          kubeconfig: flags['kubeconfig'] as string | undefined,
          serviceAccounts: flags['serviceAccounts'] as string | undefined,
          serviceAccountLookupGracePeriod: flags['serviceAccountLookupGracePeriod'] as number,
          shutdownDelay: flags['shutdownDelay'] as number,
          logLevel: flags['logLevel'] as LevelWithSilent,
          containerCredentialsConfig: flags['watchContainerCredentialsConfig'] as string | undefined,
          ...certificateFlags(flags),
          configMapNamespace: configMapNamespace(flags),
        },
        options,
        [
          ...warnings,
          ...goFlagWarnings(flags),
          ...builtinOnlyWarnings(flags),
          ...(tls.warning === undefined ? [] : [tls.warning]),
          ...suites.ignored.map(
            (name) =>
              `--tls-cipher-suites: ${name} is a TLS 1.3 suite; as in Go, TLS 1.3 suites are not configurable and all are offered`,
          ),
        ],
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
  .option(
    '--config-map <file>',
    'a ConfigMap manifest (YAML/JSON) mapping ServiceAccounts to roles, as serve --watch-config-map reads it',
  )
  .addOption(new Option('--output <what>', 'what to print').choices(OUTPUTS).default('review'))
  .addOption(
    new Option('--format <format>', 'how to print it (default: the format of the input)').choices(FORMATS),
  )
  .action(async (file: string, flags: Record<string, unknown>) => {
    try {
      const { options, warnings } = await mutationOptions(flags);
      const { mutate, readInput } = await import('../commands/mutate.js');
      const input = await readInput(file);
      const result = await mutate(
        input,
        {
          serviceAccounts: flags['serviceAccounts'] as string | undefined,
          configMap: flags['configMap'] as string | undefined,
          namespace: flags['namespace'] as string,
          output: flags['output'] as Output,
          format: flags['format'] as Format | undefined,
          containerCredentialsConfig: flags['watchContainerCredentialsConfig'] as string | undefined,
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
  // Each long flag of serve, and whether it takes a value: for the Go forms goStyleArgs rewrites.
  const serveFlags = new Map(serveCommand.options.map((o) => [o.long!, o.required || o.optional]));
  await program.parseAsync(goBooleanArgs(goStyleArgs(process.argv, serveFlags), BOOLEAN_FLAGS));
} catch (error) {
  fail(error);
}
