// The image's Node flags: what the Dockerfile ENTRYPOINT passes before /app/cli.mjs. The bench and
// the soak run the bundle with them, so they measure what the image runs.
import { readFileSync } from 'node:fs';

export function imageNodeFlags() {
  const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  if (!entrypoint)
    throw new Error('Dockerfile: no ENTRYPOINT ["node", ..., "/app/cli.mjs"] to take Node flags from');
  const argv = JSON.parse(entrypoint[1]);
  if (argv.at(-1) !== '/app/cli.mjs')
    throw new Error(
      `Dockerfile: the ENTRYPOINT must end with /app/cli.mjs (CMD is the command), got ${entrypoint[1]}`,
    );
  return argv.slice(1, -1);
}
