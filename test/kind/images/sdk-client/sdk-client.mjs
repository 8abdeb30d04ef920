// The AWS SDK for JavaScript v3 in a container, with nothing but the environment the webhook
// injected: the default Node.js credential chain must find AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE (fromTokenFile) and exchange the token with the STS that
// AWS_ENDPOINT_URL_STS names. Prints one JSON line; exit status 0 with credentials, 1 without.
// Bundled with esbuild into one file (test/kind/harness/images.ts) for the image's Dockerfile.
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';

const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('AWS_')));
try {
  const credentials = await fromNodeProviderChain()();
  process.stdout.write(
    `${JSON.stringify({
      ok: true,
      env,
      accessKeyId: credentials.accessKeyId,
      hasSecretAccessKey: Boolean(credentials.secretAccessKey),
      hasSessionToken: Boolean(credentials.sessionToken),
      expiration: credentials.expiration?.toISOString(),
    })}\n`,
  );
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ ok: false, env, error: { name: error.name, message: error.message } })}\n`,
  );
  process.exitCode = 1;
}
