// `serve` uses client-node's KubeConfig (for its authentication) but none of its generated API.
// KubeConfig's module imports the whole generated API (every model and API class: ~50 MB of
// memory and most of a second to load) for the two names makeApiClient needs. This resolve hook
// hands that one import a module with just those two names, for every KubeConfig of this
// process; the package index, which the doctor command loads, still brings the full API.
// The bundle makes the same replacement at build time, with the same module, and leaves this hook
// out (hack/bundle.mjs). If client-node's KubeConfig ever needs more, loading it fails at once
// ("does not provide an export named"), not later.
import { registerHooks } from 'node:module';

const CONFIG_MODULE = /\/@kubernetes\/client-node\/dist\/config\.js$/;
const SLIM = new URL('./client-node-gen.js', import.meta.url).href;

export function slimClientNode(): void {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === './gen/index.js' && CONFIG_MODULE.test(context.parentURL ?? '')) {
        return { url: SLIM, shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
  });
}
