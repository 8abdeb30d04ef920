// Reading what the webhook did to a Pod the API server returned or stored.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { ENV, TOKEN_VOLUME_NAME } from '../../../src/vocabulary.js';

export function allContainers(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

export function envValue(c: V1Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** The role ARN injected into the Pod's first container, if any. */
export function injectedRoleArn(pod: V1Pod): string | undefined {
  const first = pod.spec?.containers?.[0];
  return first ? envValue(first, ENV.roleArn) : undefined;
}

/** True when any trace of the identity injection is on the Pod. */
export function isMutated(pod: V1Pod): boolean {
  return (
    (pod.spec?.volumes ?? []).some((v) => v.name === TOKEN_VOLUME_NAME) ||
    allContainers(pod).some(
      (c) =>
        (c.env ?? []).some((e) => e.name.startsWith('AWS_')) ||
        (c.volumeMounts ?? []).some((m) => m.name === TOKEN_VOLUME_NAME),
    )
  );
}
