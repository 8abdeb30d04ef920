// Loaded with `node --import`: when the process exits, writes the Node built-in modules it loaded
// (a JSON array of names such as "http2") to the file named by LOADED_BUILTINS_FILE.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const builtins = process.moduleLoadList
    .filter((entry) => entry.startsWith('NativeModule '))
    .map((entry) => entry.slice('NativeModule '.length));
  writeFileSync(process.env.LOADED_BUILTINS_FILE, JSON.stringify(builtins));
});
