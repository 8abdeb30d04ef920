import { readFile } from 'node:fs/promises';

/** A file's text, or an error naming it: `<label> cannot be read: ENOENT`. */
export async function readText(file: string, label = file): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(
      `${label} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
