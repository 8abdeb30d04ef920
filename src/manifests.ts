// Kubernetes manifests from YAML or JSON text: one object, several YAML documents, or a List.
import { parseAllDocuments } from 'yaml';

export type Manifest = Record<string, unknown>;

export function parseManifests(text: string, origin: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0)
      throw new Error(`${origin}: ${document.errors[0]!.message.split('\n')[0]!.replace(/:$/, '')}`);
    const value: unknown = document.toJSON();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(
        `${origin}: each document must be a Kubernetes object, got ${Array.isArray(value) ? 'array' : typeof value}`,
      );
    }
    const manifest = value as Manifest;
    if (
      typeof manifest['kind'] === 'string' &&
      manifest['kind'].endsWith('List') &&
      Array.isArray(manifest['items'])
    ) {
      manifest['items'].forEach((item: unknown, i) => {
        if (typeof item !== 'object' || item === null || Array.isArray(item)) {
          throw new Error(`${origin}: ${manifest['kind']} item ${i + 1} must be a Kubernetes object`);
        }
        manifests.push(item as Manifest);
      });
    } else {
      manifests.push(manifest);
    }
  }
  return manifests;
}
