// The pure mutation: Pod + Identity in, mutated Pod + warnings out. No I/O, no annotations: the
// identity rules decided everything already. Only appends; never changes or reorders what exists.
import type {
  V1Container,
  V1EnvVar,
  V1Pod,
  V1PodSpec,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { Identity } from '../identity/rules.js';
import {
  ENV,
  POD_IDENTITY_LABEL,
  POD_IDENTITY_LABEL_VALUE,
  POD_NAME_FIELD,
  STS_REGIONAL,
} from '../vocabulary.js';

/** STS takes role session names of 2 to 64 characters. */
const SESSION_NAME_LENGTH = { min: 2, max: 64 };

export interface MutationResult {
  pod: V1Pod;
  warnings: string[];
}

/**
 * Copies only what it changes (the Pod, its spec, and the containers it touches); everything else is
 * shared with `original`, which stays unmodified. Besides saving the clone, shared parts let the
 * diff skip them by identity, so the cost follows what changed, not the size of the Pod.
 */
export function injectIdentity(original: V1Pod, identity: Identity): MutationResult {
  const spec = original.spec;
  const warnings: string[] = [];
  if (spec === undefined) return { pod: original, warnings };
  const sessionName = identity.roleSessionNameFromPod && sessionNameFits(original, warnings);
  const tokenFile = tokenFilePath(identity.tokenMountPath, identity.tokenPath, isWindows(original));
  const add = { tokenFile, sessionName };
  const withRole = hasCredentials(identity);
  const inject = (container: V1Container): V1Container => {
    if (!isSelected(container.name, identity)) return container;
    const env = identityEnv(container, identity, add, warnings);
    const mount = withRole && !mountsToken(container, identity);
    if (env.length === 0 && !mount) return container;
    const injected = { ...container };
    if (env.length > 0) injected.env = [...(container.env ?? []), ...env];
    if (mount) {
      const tokenMount: V1VolumeMount = {
        name: identity.tokenVolumeName,
        readOnly: true,
        mountPath: identity.tokenMountPath,
      };
      injected.volumeMounts = [...(container.volumeMounts ?? []), tokenMount];
    }
    return injected;
  };
  const mutated = { ...spec };
  // JSON may carry null where the types say undefined.
  if (spec.initContainers) mutated.initContainers = spec.initContainers.map(inject);
  mutated.containers = spec.containers.map(inject);
  if (needsTokenVolume(mutated, identity.tokenVolumeName))
    mutated.volumes = [...(spec.volumes ?? []), tokenVolume(identity)];
  if (needsFsGroup(spec, identity))
    mutated.securityContext = { ...spec.securityContext, fsGroup: identity.fsGroup };
  warnings.push(...unmatchedIncludes(spec, identity));
  return { pod: { ...withPodIdentityLabel(original, identity), spec: mutated }, warnings };
}

/** A role (IRSA) or EKS Pod Identity (container credentials): a token to mount. */
function hasCredentials(identity: Identity): boolean {
  return identity.roleArn !== '' || identity.containerCredentialsFullUri !== '';
}

/** EKS Pod Identity marks its Pods with a label, as the Go webhook does, whatever the containers. */
function withPodIdentityLabel(pod: V1Pod, identity: Identity): V1Pod {
  if (identity.containerCredentialsFullUri === '') return pod;
  if (pod.metadata?.labels?.[POD_IDENTITY_LABEL] === POD_IDENTITY_LABEL_VALUE) return pod;
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      labels: { ...pod.metadata?.labels, [POD_IDENTITY_LABEL]: POD_IDENTITY_LABEL_VALUE },
    },
  };
}

/** Not skipped and, when there is an include list, on it: skip-containers wins over include-containers. */
function isSelected(name: string, identity: Identity): boolean {
  return !identity.skipContainers.has(name) && (identity.includeContainers?.has(name) ?? true);
}

/** fsGroup for a Pod that gets its role in some container and sets no fsGroup of its own. */
function needsFsGroup(spec: V1PodSpec, identity: Identity): boolean {
  if (identity.fsGroup === undefined || !hasCredentials(identity)) return false;
  if (spec.securityContext?.fsGroup !== undefined && spec.securityContext.fsGroup !== null) return false;
  return [...(spec.initContainers ?? []), ...spec.containers].some((c) => isSelected(c.name, identity));
}

function unmatchedIncludes(spec: V1PodSpec, identity: Identity): string[] {
  const names = new Set([...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name));
  return [...(identity.includeContainers ?? [])]
    .filter((name) => !names.has(name))
    .map((name) => `include-containers names "${name}", which is not a container of this Pod`);
}

/**
 * A Pod from generateName gets at most 63 characters; a Pod named in full may have a name STS
 * refuses as a session name, which would break every credential request: then none, and a warning.
 */
function sessionNameFits(pod: V1Pod, warnings: string[]): boolean {
  const name = pod.metadata?.name;
  if (name === undefined || name === null) return true;
  const { min, max } = SESSION_NAME_LENGTH;
  if (name.length >= min && name.length <= max) return true;
  warnings.push(
    `the Pod's name has ${name.length} characters, STS takes ${min} to ${max} as a role session name; ${ENV.roleSessionName} not injected`,
  );
  return false;
}

/** The variables this container lacks, in the Go webhook's order. */
function identityEnv(
  container: V1Container,
  identity: Identity,
  { tokenFile, sessionName }: { tokenFile: string; sessionName: boolean },
  warnings: string[],
): V1EnvVar[] {
  const has = new Set((container.env ?? []).map((variable) => variable.name));
  if (!hasCredentials(identity)) return regionEnv(has, identity.region);
  const added: V1EnvVar[] = [];
  if (identity.regionalSts && !has.has(ENV.stsRegionalEndpoints)) {
    added.push({ name: ENV.stsRegionalEndpoints, value: STS_REGIONAL });
  }
  if (identity.stsEndpoint !== '' && !has.has(ENV.endpointUrlSts)) {
    added.push({ name: ENV.endpointUrlSts, value: identity.stsEndpoint });
  }
  added.push(...regionEnv(has, identity.region));
  added.push(
    ...(identity.containerCredentialsFullUri === ''
      ? pairedEnv(
          container,
          has,
          { name: ENV.roleArn, value: identity.roleArn },
          { name: ENV.webIdentityTokenFile, value: tokenFile },
          warnings,
        )
      : pairedEnv(
          container,
          has,
          { name: ENV.containerCredentialsFullUri, value: identity.containerCredentialsFullUri },
          { name: ENV.containerAuthorizationTokenFile, value: tokenFile },
          warnings,
        )),
  );
  if (sessionName && !has.has(ENV.roleSessionName)) {
    added.push({
      name: ENV.roleSessionName,
      valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: POD_NAME_FIELD } },
    });
  }
  return added;
}

function regionEnv(has: ReadonlySet<string>, region: string): V1EnvVar[] {
  if (region === '' || has.has(ENV.defaultRegion) || has.has(ENV.region)) return [];
  return [
    { name: ENV.defaultRegion, value: region },
    { name: ENV.region, value: region },
  ];
}

/**
 * Two variables that only work together (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or the
 * container credentials URI with its token file): both are added, or, when the container sets one
 * of them already, neither, with a warning.
 */
function pairedEnv(
  container: V1Container,
  has: ReadonlySet<string>,
  first: V1EnvVar,
  second: V1EnvVar,
  warnings: string[],
): V1EnvVar[] {
  const [hasFirst, hasSecond] = [has.has(first.name), has.has(second.name)];
  if (!hasFirst && !hasSecond) return [first, second];
  if (hasFirst !== hasSecond) {
    const present = hasFirst ? first.name : second.name;
    warnings.push(
      `container "${container.name}" already sets ${present} alone; ${first.name} and ${second.name} not injected`,
    );
  }
  return [];
}

function mountsToken(container: V1Container, identity: Identity): boolean {
  return (container.volumeMounts ?? []).some(
    (m) => m.name === identity.tokenVolumeName || m.mountPath === identity.tokenMountPath,
  );
}

function needsTokenVolume(spec: V1PodSpec, volumeName: string): boolean {
  if ((spec.volumes ?? []).some((volume) => volume.name === volumeName)) return false;
  return [...(spec.initContainers ?? []), ...spec.containers].some((container) =>
    (container.volumeMounts ?? []).some((mount) => mount.name === volumeName),
  );
}

function tokenVolume(identity: Identity): V1Volume {
  return {
    name: identity.tokenVolumeName,
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: identity.audience,
            expirationSeconds: identity.expirationSeconds,
            path: identity.tokenPath,
          },
        },
      ],
    },
  };
}

function tokenFilePath(mountPath: string, file: string, windows: boolean): string {
  const path = `${mountPath.replace(/\/$/, '')}/${file}`;
  return windows ? `C:${path.replace(/\//g, '\\')}` : path;
}

/** A Pod that can only schedule on Windows nodes reads its token from a C: path. */
export function isWindows(pod: V1Pod): boolean {
  const selector = pod.spec?.nodeSelector ?? {};
  if (selector['kubernetes.io/os'] === 'windows' || selector['beta.kubernetes.io/os'] === 'windows')
    return true;
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return (
    terms.length > 0 &&
    terms.every((term) =>
      (term.matchExpressions ?? []).some(
        (e) =>
          e.key === 'kubernetes.io/os' &&
          e.operator === 'In' &&
          (e.values ?? []).length > 0 &&
          (e.values ?? []).every((v) => v === 'windows'),
      ),
    )
  );
}
