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
} as const;

/** `AWS_STS_REGIONAL_ENDPOINTS` when regional STS is on. */
export const STS_REGIONAL = 'regional';

/** The projected service-account token volume, its mount and its file. */
export const TOKEN_VOLUME_NAME = 'aws-iam-token';
export const TOKEN_FILE = 'token';
export const DEFAULT_TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
export const DEFAULT_TOKEN_AUDIENCE = 'sts.amazonaws.com';
/** Seconds; the Go webhook's default. */
export const DEFAULT_TOKEN_EXPIRATION = 86400;
