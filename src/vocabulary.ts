// The names that make up the contract with users, their Pods and the AWS SDKs. They match the Go
// webhook (aws/amazon-eks-pod-identity-webhook), so manifests and SDKs written for it work here.

/** Annotation prefix of ServiceAccounts and Pods (`--annotation-prefix`). */
export const DEFAULT_ANNOTATION_PREFIX = 'eks.amazonaws.com';

/** Annotation names, read as `<prefix>/<name>`. */
export const ANNOTATION = {
  roleArn: 'role-arn',
  audience: 'audience',
  stsRegionalEndpoints: 'sts-regional-endpoints',
  tokenExpiration: 'token-expiration',
  skipContainers: 'skip-containers',
  stsEndpoint: 'sts-endpoint',
  /** ServiceAccount: a GID for `spec.securityContext.fsGroup` (`--fs-group`). */
  fsGroup: 'fs-group',
  /** ServiceAccount: "true" injects AWS_ROLE_SESSION_NAME from the Pod's name. */
  roleSessionNameFromPod: 'role-session-name-from-pod',
  /** ServiceAccount: the region, over `--aws-default-region`. */
  region: 'region',
  /** ServiceAccount and Pod: when present, only these containers are mutated. */
  includeContainers: 'include-containers',
  /** ServiceAccount: the roles a Pod's `role-arn` annotation may pick (`--allow-pod-role-arn`). */
  allowedRoleArns: 'allowed-role-arns',
} as const;

/** A Pod or namespace label that keeps the webhook away (the chart's objectSelector). */
export const SKIP_LABEL = `${DEFAULT_ANNOTATION_PREFIX}/skip-pod-identity-webhook`;

/** Environment variables injected into containers, in the order the Go webhook adds them. */
export const ENV = {
  stsRegionalEndpoints: 'AWS_STS_REGIONAL_ENDPOINTS',
  /** The STS endpoint the AWS SDKs call (a local STS, a VPC endpoint); not in the Go webhook. */
  endpointUrlSts: 'AWS_ENDPOINT_URL_STS',
  defaultRegion: 'AWS_DEFAULT_REGION',
  region: 'AWS_REGION',
  roleArn: 'AWS_ROLE_ARN',
  webIdentityTokenFile: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  /** From the Pod's name (downward API), for CloudTrail; opt-in, not in the Go webhook. */
  roleSessionName: 'AWS_ROLE_SESSION_NAME',
  /** EKS Pod Identity (container credentials): instead of AWS_ROLE_ARN and its token file. */
  containerCredentialsFullUri: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  containerAuthorizationTokenFile: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
} as const;

/** The downward-API field AWS_ROLE_SESSION_NAME is read from. */
export const POD_NAME_FIELD = 'metadata.name';

/** `AWS_STS_REGIONAL_ENDPOINTS` when regional STS is on. */
export const STS_REGIONAL = 'regional';

/** The projected service-account token volume, its mount and its file. */
export const TOKEN_VOLUME_NAME = 'aws-iam-token';
export const TOKEN_FILE = 'token';
export const DEFAULT_TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
export const DEFAULT_TOKEN_AUDIENCE = 'sts.amazonaws.com';
/** Seconds; the Go webhook's default. */
export const DEFAULT_TOKEN_EXPIRATION = 86400;

/** EKS Pod Identity ("container credentials"), with the Go webhook's defaults (`--container-credentials-*`). */
export const DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE = 'pods.eks.amazonaws.com';
export const DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH =
  '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount';
export const DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME = 'eks-pod-identity-token';
export const DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH = 'eks-pod-identity-token';
export const DEFAULT_CONTAINER_CREDENTIALS_FULL_URI = 'http://169.254.170.23/v1/credentials';
/** The label a Pod in container-credentials mode gets (the Go webhook's, whatever the prefix). */
export const POD_IDENTITY_LABEL = 'eks.amazonaws.com/pod-identity';
export const POD_IDENTITY_LABEL_VALUE = 'enabled';
/**
 * In container-credentials mode a token expiration of exactly DEFAULT_TOKEN_EXPIRATION becomes one
 * in [CONTAINER_CREDENTIALS_MIN_JITTERED_EXPIRATION, DEFAULT_TOKEN_EXPIRATION], as in the Go webhook.
 */
export const CONTAINER_CREDENTIALS_MIN_JITTERED_EXPIRATION = 79200;
