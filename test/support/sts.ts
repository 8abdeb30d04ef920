// The identity provider and trust policy the STS tests (test/unit/sts.test.ts without HTTP,
// test/http/sts.test.ts over it) assume roles against.
export const ISSUER = 'https://oidc.example.com/id/ABC';
export const PROVIDER = 'oidc.example.com/id/ABC';

/**
 * AWS's documented EKS trust policy (IAM User Guide, "Assign IAM roles to Kubernetes service
 * accounts"): tokens of PROVIDER whose subject is `subject` and audience sts.amazonaws.com.
 */
export function eksTrustPolicy(subject: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${PROVIDER}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: { [`${PROVIDER}:sub`]: subject, [`${PROVIDER}:aud`]: 'sts.amazonaws.com' },
        },
      },
    ],
  };
}
