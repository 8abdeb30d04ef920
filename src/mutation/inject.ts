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
import { ENV, STS_REGIONAL, TOKEN_FILE, TOKEN_VOLUME_NAME } from '../vocabulary.js';

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
  const tokenFile = tokenFilePath(identity.tokenMountPath, isWindows(original));
  const inject = (container: V1Container): V1Container => {
    if (identity.skipContainers.has(container.name)) return container;
    const env = identityEnv(container, identity, tokenFile, warnings);
    const mount = !mountsToken(container, identity.tokenMountPath);
    if (env.length === 0 && !mount) return container;
    const injected = { ...container };
    if (env.length > 0) injected.env = [...(container.env ?? []), ...env];
    if (mount) {
      const tokenMount: V1VolumeMount = {
        name: TOKEN_VOLUME_NAME,
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
  if (needsTokenVolume(mutated)) mutated.volumes = [...(spec.volumes ?? []), tokenVolume(identity)];
  return { pod: { ...original, spec: mutated }, warnings };
}

/** The variables this container lacks, in the Go webhook's order. */
function identityEnv(
  container: V1Container,
  identity: Identity,
  tokenFile: string,
  warnings: string[],
): V1EnvVar[] {
  const has = new Set((container.env ?? []).map((variable) => variable.name));
  const added: V1EnvVar[] = [];
  if (identity.regionalSts && !has.has(ENV.stsRegionalEndpoints)) {
    added.push({ name: ENV.stsRegionalEndpoints, value: STS_REGIONAL });
  }
  if (identity.stsEndpoint !== '' && !has.has(ENV.endpointUrlSts)) {
    added.push({ name: ENV.endpointUrlSts, value: identity.stsEndpoint });
  }
  if (identity.region !== '' && !has.has(ENV.defaultRegion) && !has.has(ENV.region)) {
    added.push(
      { name: ENV.defaultRegion, value: identity.region },
      { name: ENV.region, value: identity.region },
    );
  }
  const hasRole = has.has(ENV.roleArn);
  const hasFile = has.has(ENV.webIdentityTokenFile);
  if (!hasRole && !hasFile) {
    added.push(
      { name: ENV.roleArn, value: identity.roleArn },
      { name: ENV.webIdentityTokenFile, value: tokenFile },
    );
  } else if (hasRole !== hasFile) {
    const present = hasRole ? ENV.roleArn : ENV.webIdentityTokenFile;
    warnings.push(
      `container "${container.name}" already sets ${present} alone; ${ENV.roleArn} and ${ENV.webIdentityTokenFile} not injected`,
    );
  }
  return added;
}

function mountsToken(container: V1Container, mountPath: string): boolean {
  return (container.volumeMounts ?? []).some(
    (m) => m.name === TOKEN_VOLUME_NAME || m.mountPath === mountPath,
  );
}

function needsTokenVolume(spec: V1PodSpec): boolean {
  if ((spec.volumes ?? []).some((volume) => volume.name === TOKEN_VOLUME_NAME)) return false;
  return [...(spec.initContainers ?? []), ...spec.containers].some((container) =>
    (container.volumeMounts ?? []).some((mount) => mount.name === TOKEN_VOLUME_NAME),
  );
}

function tokenVolume(identity: Identity): V1Volume {
  return {
    name: TOKEN_VOLUME_NAME,
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: identity.audience,
            expirationSeconds: identity.expirationSeconds,
            path: TOKEN_FILE,
          },
        },
      ],
    },
  };
}

function tokenFilePath(mountPath: string, windows: boolean): string {
  const path = `${mountPath.replace(/\/$/, '')}/${TOKEN_FILE}`;
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
