// The AWS Query protocol's XML for AssumeRoleWithWebIdentity: the response and ErrorResponse
// exactly in the shape AWS STS returns (element names, order and namespace), so the AWS SDKs
// parse it as they parse STS's own.
export const STS_XML_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

export interface AssumeRoleWithWebIdentityResult {
  credentials: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken: string;
    expiration: Date;
  };
  subjectFromWebIdentityToken: string;
  assumedRoleUser: { arn: string; assumedRoleId: string };
  provider: string;
  audience: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** ISO 8601 in seconds, as STS writes it: `2014-10-24T23:00:23Z`. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function assumeRoleWithWebIdentityXml(
  result: AssumeRoleWithWebIdentityResult,
  requestId: string,
): string {
  const e = escapeXml;
  const c = result.credentials;
  return `<AssumeRoleWithWebIdentityResponse xmlns="${STS_XML_NAMESPACE}">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${e(result.subjectFromWebIdentityToken)}</SubjectFromWebIdentityToken>
    <Audience>${e(result.audience)}</Audience>
    <AssumedRoleUser>
      <Arn>${e(result.assumedRoleUser.arn)}</Arn>
      <AssumedRoleId>${e(result.assumedRoleUser.assumedRoleId)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${e(c.sessionToken)}</SessionToken>
      <SecretAccessKey>${e(c.secretAccessKey)}</SecretAccessKey>
      <Expiration>${isoSeconds(c.expiration)}</Expiration>
      <AccessKeyId>${e(c.accessKeyId)}</AccessKeyId>
    </Credentials>
    <Provider>${e(result.provider)}</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${e(requestId)}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
}

/** STS's ErrorResponse; `type` is `Sender` for the caller's mistakes, `Receiver` for STS's own. */
export function errorResponseXml(
  error: { code: string; message: string; type?: 'Sender' | 'Receiver' },
  requestId: string,
): string {
  const e = escapeXml;
  return `<ErrorResponse xmlns="${STS_XML_NAMESPACE}">
  <Error>
    <Type>${error.type ?? 'Sender'}</Type>
    <Code>${e(error.code)}</Code>
    <Message>${e(error.message)}</Message>
  </Error>
  <RequestId>${e(requestId)}</RequestId>
</ErrorResponse>
`;
}
