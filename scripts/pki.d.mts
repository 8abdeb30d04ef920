export interface Pem {
  cert: string;
  key: string;
}
export function createCA(dir: string, name?: string, commonName?: string): Promise<Pem>;
export function issueCertificate(
  dir: string,
  name: string,
  ca: Pem,
  options: { commonName: string; hosts?: string[]; organization?: string; client?: boolean; days?: number },
): Promise<Pem>;
export function createRsaKeyPair(
  dir: string,
  name: string,
  bits?: number,
): Promise<{ key: string; pub: string }>;
