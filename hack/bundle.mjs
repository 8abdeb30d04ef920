// Bundles the compiled CLI (dist/, from `npm run build`) with the production dependencies it really
// runs into dist/bundle/, so the container image ships no node_modules (about 100 MB of them, 57 MB
// @kubernetes/client-node, most of which the webhook never loads).
//
//   dist/bundle/cli.mjs               the entry: `node dist/bundle/cli.mjs serve ...`
//   dist/bundle/chunks/*.mjs          code split off the entry: dynamic imports stay lazy, so
//                                     `mutate` and `serve --service-accounts` never load
//                                     @kubernetes/client-node, and only the built-in certificate
//                                     mode loads @peculiar/x509
//   dist/bundle/THIRD_PARTY_LICENSES  the license text of every package inside the bundle
//   dist/bundle/webhook               the image's /webhook, the Go webhook's entry point
//                                     (hack/webhook-entry.mjs)
//
// It lives under dist/ because dist/ is already ignored by git, prettier and eslint. `.mjs`, so it
// needs no package.json ("type": "module") beside it. Checks, each failing the bundle:
// - no devDependency ends up in it (the image must run production dependencies only);
// - the CLI's version: dist/cli/main.js reads ../../package.json at run time, which the bundle
//   cannot (the image has no package.json), so that one expression is replaced by the version
//   itself; if src changes how it reads the version, the bundle fails here instead of at run time.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { WEBHOOK_SCRIPT } from './webhook-entry.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const entry = join(root, 'dist', 'cli', 'main.js');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const VERSION_READ =
  /JSON\.parse\(readFileSync\(new URL\('\.\.\/\.\.\/package\.json', import\.meta\.url\), 'utf8'\)\)/g;

/** Inlines `{ version }` where the CLI reads it from package.json at run time. */
const inlineVersion = {
  name: 'inline-version',
  setup(b) {
    b.onLoad({ filter: /[/\\]dist[/\\]cli[/\\]main\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const found = source.match(VERSION_READ)?.length ?? 0;
      if (found !== 1) {
        return {
          errors: [
            {
              text: `expected one package.json version read in ${relative(root, args.path)}, found ${found}: update VERSION_READ in hack/bundle.mjs`,
            },
          ],
        };
      }
      return {
        contents: source.replace(VERSION_READ, JSON.stringify({ version: pkg.version })),
        loader: 'js',
      };
    });
  },
};

/**
 * Imports replaced in the bundle, each by its importer (a regular expression on its path) and the
 * path it imports, with `contents` or a module `file` of this project. What `serve` loads of
 * @kubernetes/client-node is KubeConfig (src/cluster.ts), for its authentication; its generated
 * API (every model and API class, ~1 MB minified, ~50 MB of memory and most of a second to load)
 * only the doctor command uses:
 * - config.js's `./gen/index.js`: only the two names KubeConfig uses (for makeApiClient), so the
 *   generated API lands in the chunks that import the package index (doctor), not in serve's. The
 *   module with those names is src/cli/client-node-gen.ts, which dist/ gets through a resolve hook
 *   at run time (src/cli/slim-client-node.ts); in the bundle that hook is a no-op, its work done;
 * - oidc_auth.js's `openid-client`: loaded when a kubeconfig user has an OIDC auth provider, not
 *   by every KubeConfig;
 * - node-fetch's `whatwg-url`: node-fetch uses Node's own URL and keeps whatwg-url (with tr46's
 *   Unicode tables, 260 KB parsed at start) only for runtimes without one.
 * Each of those re-exports what its importer uses, so a client-node update that needs more fails
 * here (esbuild: "No matching export") instead of at run time. The others leave out code every
 * start would parse and run for a feature the webhook does not use; each stub fails loudly if
 * that feature is ever asked for:
 * - fastify's JSON-schema compilers (ajv, fast-json-stringify: ~300 KB): src/server/app.ts gives
 *   fastify its own, so these are never called;
 * - fastify's `node:http2`, loaded only for an HTTP/2 server (~16 ms of start-up otherwise);
 * - fastify's light-my-request (`inject()`, for tests of dist/) and semver (the version check of
 *   plugins that declare a fastify version: the webhook registers none);
 * - prom-client's cluster aggregator and Pushgateway, and OpenTelemetry (for exemplars: off);
 * - pino's transports (thread-stream): the webhook logs to stdout synchronously (src/log.ts).
 */
const thrower = (what) =>
  `function () { throw new Error(${JSON.stringify(`${what} is not in this bundle (hack/bundle.mjs)`)}); }`;
/** A CommonJS module: a function that throws, or an object whose named members do. */
const failing = (what, members) =>
  members
    ? `const fail = ${thrower(what)};\nmodule.exports = { ${members.map((m) => `get ${m}() { return fail(); }`).join(', ')} };\n`
    : `module.exports = ${thrower(what)};\n`;
const SLIM = [
  {
    importer: /[/\\]@kubernetes[/\\]client-node[/\\]dist[/\\]config\.js$/,
    path: './gen/index.js',
    file: join(root, 'dist', 'cli', 'client-node-gen.js'),
  },
  {
    importer: /[/\\]dist[/\\]cli[/\\]main\.js$/,
    path: './slim-client-node.js',
    contents: 'export function slimClientNode() {}\n',
  },
  {
    importer: /[/\\]@kubernetes[/\\]client-node[/\\]dist[/\\]oidc_auth\.js$/,
    path: 'openid-client',
    contents: [
      "export const discovery = async (...args) => (await import('openid-client')).discovery(...args);",
      "export const refreshTokenGrant = async (...args) => (await import('openid-client')).refreshTokenGrant(...args);",
      '',
    ].join('\n'),
  },
  {
    importer: /[/\\]node-fetch[/\\]lib[/\\]index\.js$/,
    path: 'whatwg-url',
    contents: 'module.exports = { URL: globalThis.URL };\n',
  },
  {
    importer: /[/\\]fastify[/\\]lib[/\\]schema-controller\.js$/,
    path: '@fastify/ajv-compiler',
    contents: failing("fastify's JSON-schema validator compiler"),
  },
  {
    importer: /[/\\]fastify[/\\]lib[/\\]schema-controller\.js$/,
    path: '@fastify/fast-json-stringify-compiler',
    contents: failing("fastify's JSON-schema serializer compiler"),
  },
  {
    importer: /[/\\]fastify[/\\]lib[/\\]server\.js$/,
    path: 'node:http2',
    contents: [
      "exports.createServer = (...args) => require('node:http2').createServer(...args);",
      "exports.createSecureServer = (...args) => require('node:http2').createSecureServer(...args);",
      '',
    ].join('\n'),
  },
  {
    importer: /[/\\]fastify[/\\]fastify\.js$/,
    path: 'light-my-request',
    contents: failing("fastify's inject() (light-my-request)"),
  },
  {
    importer: /[/\\]fastify[/\\]lib[/\\]plugin-utils\.js$/,
    path: 'semver',
    contents: failing('the version check of fastify plugins (semver)', ['gt', 'coerce', 'satisfies']),
  },
  {
    importer: /[/\\]prom-client[/\\]lib[/\\]metrics[/\\]processCpuTotal\.js$/,
    path: '@opentelemetry/api',
    contents: failing("prom-client's exemplars (@opentelemetry/api)", ['trace', 'context']),
  },
  {
    importer: /[/\\]prom-client[/\\]index\.js$/,
    path: './lib/cluster',
    contents: failing("prom-client's AggregatorRegistry"),
  },
  {
    importer: /[/\\]prom-client[/\\]index\.js$/,
    path: './lib/pushgateway',
    contents: failing("prom-client's Pushgateway"),
  },
  {
    importer: /[/\\]pino[/\\]lib[/\\]transport\.js$/,
    path: 'thread-stream',
    contents: failing("pino's transports (thread-stream)"),
  },
];
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const slimmed = new Set();
const slimImports = {
  name: 'slim-imports',
  setup(b) {
    const filter = new RegExp(`^(${SLIM.map((slim) => escape(slim.path)).join('|')})$`);
    b.onResolve({ filter }, (args) => {
      const slim = SLIM.find((s) => s.path === args.path && s.importer.test(args.importer));
      if (slim) slimmed.add(slim);
      if (slim?.file) return { path: slim.file };
      return slim && { path: `${args.importer}#${args.path}`, namespace: 'slim', pluginData: slim };
    });
    b.onLoad({ filter: /.*/, namespace: 'slim' }, (args) => ({
      contents: args.pluginData.contents,
      resolveDir: dirname(args.path.split('#')[0]),
      loader: 'js',
    }));
  },
};

/**
 * An ES import of a Node built-in (`import { request } from 'node:http'`) makes Node build the
 * module's ES facade, which reads every export: node:http's lazy WebSocket getters load undici,
 * node:crypto's load WebCrypto, tens of ms at start-up for nothing used. require() hands over the
 * module as it is, so every built-in the bundle imports comes through the banner's require.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    const builtins = new Set(builtinModules);
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (args.kind !== 'import-statement' || !(builtins.has(name) || args.path.startsWith('node:')))
        return undefined;
      return { path: `node:${name}`, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: entry },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  chunkNames: 'chunks/[name]-[hash]',
  minify: true,
  keepNames: true, // class and function names stay readable in stack traces and errors
  legalComments: 'none', // THIRD_PARTY_LICENSES carries the full texts instead
  // CommonJS dependencies call require() for Node built-ins; an ESM bundle has no require of its
  // own, so it gets Node's.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
  },
  // @peculiar/x509 has no "exports", a CommonJS "main" and an ES "module" build. For platform node
  // esbuild takes "main", and the namespace of a dynamic import() of CommonJS is then only
  // { default }: `(await import('@peculiar/x509')).cryptoProvider` is undefined, where Node finds
  // the named exports. The ES build gives the bundle the same names Node gives dist/.
  alias: { '@peculiar/x509': '@peculiar/x509/build/x509.es.js' },
  // Optional packages loaded inside try/catch, absent from a production install: ws's native
  // accelerators (without them it uses plain JS) and debug's supports-color (a devDependency's
  // here). External, so the bundle behaves as production node_modules do: the require fails.
  external: ['bufferutil', 'utf-8-validate', 'supports-color'],
  plugins: [inlineVersion, slimImports, builtinsByRequire],
  metafile: true,
  logLevel: 'warning',
});

// A replacement that no longer matches (a dependency moved the import) would silently bring back
// what it left out.
const unmatched = SLIM.filter((slim) => !slimmed.has(slim));
if (unmatched.length > 0) {
  throw new Error(
    `hack/bundle.mjs: no import matched ${unmatched.map((s) => `${s.path} from ${s.importer}`).join(', ')}: update SLIM`,
  );
}

// BUNDLE_METAFILE=file: esbuild's metafile, for `npx esbuild --analyze`-style reading of what went where.
if (process.env.BUNDLE_METAFILE)
  await writeFile(process.env.BUNDLE_METAFILE, JSON.stringify(result.metafile));

// The packages inside the bundle, by their node_modules directory.
const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8'));
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(?:.*\/)?(node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match) packages.add(match[1]);
}
const devOnly = [...packages].filter((dir) => lock.packages[dir]?.dev);
if (devOnly.length > 0) {
  throw new Error(`the bundle contains devDependencies (the image must not): ${devOnly.join(', ')}`);
}

const sections = [];
for (const dir of [...packages].sort()) {
  const meta = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8'));
  const files = (await readdir(join(root, dir))).filter((name) => /^(licen[cs]e|copying|notice)/i.test(name));
  const texts = await Promise.all(files.map((name) => readFile(join(root, dir, name), 'utf8')));
  const license = typeof meta.license === 'string' ? meta.license : 'see the text';
  sections.push(
    [`${meta.name}@${meta.version} (${license})`, ...texts.map((text) => text.trim())].join('\n\n'),
  );
}
await writeFile(join(outdir, 'webhook'), WEBHOOK_SCRIPT, { mode: 0o755 });
await writeFile(
  join(outdir, 'THIRD_PARTY_LICENSES'),
  `${pkg.name} ${pkg.version} bundles these packages:\n\n${sections.join(`\n\n${'-'.repeat(80)}\n\n`)}\n`,
);

let total = 0;
for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
  total += bytes;
  console.log(`${relative(root, join(root, file)).padEnd(52)} ${(bytes / 1024).toFixed(0).padStart(6)} KiB`);
}
console.log(
  `bundle: ${(total / 1024 / 1024).toFixed(1)} MiB from ${packages.size} packages in ${relative(root, outdir)}/`,
);
