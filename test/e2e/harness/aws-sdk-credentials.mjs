// Run as a child process with a container's environment: the AWS SDK's default credential chain
// must find AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE and exchange the token with STS.
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';

const credentials = await fromNodeProviderChain()();
process.stdout.write(
  JSON.stringify({
    accessKeyId: credentials.accessKeyId,
    sessionToken: credentials.sessionToken,
    expiration: credentials.expiration?.toISOString(),
  }),
);
