// The EC2 instance metadata service (IMDSv2), for `--compose-role-arn` when --aws-account-id or
// --aws-default-region is not given: the Go webhook reads the account and region the same way, at
// startup. A token first (PUT /latest/api/token), then the instance identity document. The
// endpoint is the AWS SDKs' AWS_EC2_METADATA_SERVICE_ENDPOINT when set (tests use a local stand-in).
import { partitionOf } from '../identity/options.js';

export const IMDS_ENDPOINT = 'http://169.254.169.254';
export const IMDS_TIMEOUT_MS = 2000;
const TOKEN_TTL_SECONDS = '21600';

export interface InstanceIdentity {
  accountId: string;
  region: string;
}

export interface ImdsOptions {
  endpoint?: string;
  timeoutMs?: number;
}

export function imdsEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] || IMDS_ENDPOINT;
}

/** The account and region of the instance; throws an Error saying which step failed and why. */
export async function instanceIdentity({
  endpoint = imdsEndpoint(),
  timeoutMs = IMDS_TIMEOUT_MS,
}: ImdsOptions = {}): Promise<InstanceIdentity> {
  const base = endpoint.replace(/\/+$/, '');
  const step = async (what: string, url: string, init: RequestInit): Promise<string> => {
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const cause = error as Error;
      const why = cause.name === 'TimeoutError' ? `no answer within ${timeoutMs}ms` : describe(cause);
      throw new Error(`instance metadata service: ${what} (${init.method} ${url}) failed: ${why}`);
    }
    const body = await response.text();
    if (!response.ok) {
      throw new Error(
        `instance metadata service: ${what} (${init.method} ${url}) failed: HTTP ${response.status}${body ? ` ${body.slice(0, 200)}` : ''}`,
      );
    }
    return body;
  };
  const token = await step('getting an IMDSv2 token', `${base}/latest/api/token`, {
    method: 'PUT',
    headers: { 'x-aws-ec2-metadata-token-ttl-seconds': TOKEN_TTL_SECONDS },
  });
  const url = `${base}/latest/dynamic/instance-identity/document`;
  const text = await step('reading the instance identity document', url, {
    method: 'GET',
    headers: { 'x-aws-ec2-metadata-token': token },
  });
  let document: Record<string, unknown>;
  try {
    document = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `instance metadata service: the instance identity document is not JSON: ${describe(error)}`,
    );
  }
  const { accountId, region } = document;
  if (typeof accountId !== 'string' || typeof region !== 'string' || accountId === '' || region === '') {
    throw new Error('instance metadata service: the instance identity document has no accountId or region');
  }
  return { accountId, region };
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/**
 * `--compose-role-arn`: the account and partition, from --aws-account-id and --aws-default-region,
 * or what they leave out from the instance metadata service. Nothing when the flag is off.
 */
export async function composeRoleArnOptions(
  given: { composeRoleArn: boolean; awsAccountId: string; awsDefaultRegion: string },
  imds: (options?: ImdsOptions) => Promise<InstanceIdentity> = instanceIdentity,
): Promise<{ composeRoleArn: boolean; awsAccountId: string; awsPartition: string }> {
  if (!given.composeRoleArn)
    return { composeRoleArn: false, awsAccountId: given.awsAccountId, awsPartition: '' };
  let { awsAccountId: accountId, awsDefaultRegion: region } = given;
  if (accountId === '' || region === '') {
    const found = await imds().catch((error: Error) => {
      throw new Error(
        `--compose-role-arn needs the account ID and region: give --aws-account-id and --aws-default-region, or run where the instance metadata service answers (${error.message})`,
      );
    });
    accountId ||= found.accountId;
    region ||= found.region;
  }
  return { composeRoleArn: true, awsAccountId: accountId, awsPartition: partitionOf(region) };
}
