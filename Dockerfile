# The webhook image: Node.js 24 (distroless, no shell), non-root 65532, the CLI as entrypoint.
#
#   docker build --build-arg VERSION="$(node -p "require('./package.json').version")" \
#     --build-arg REVISION="$(git rev-parse HEAD)" -t pod-identity-webhook .
#
# The build stage installs every dependency (TypeScript and esbuild are devDependencies), compiles
# src/ and bundles the CLI with the production dependencies it runs (`npm run bundle`, see
# hack/bundle.mjs, which fails if a devDependency would end up inside). The runtime stage ships that
# bundle alone: no node_modules, no package.json. Lazily imported parts (@kubernetes/client-node
# for a cluster, @peculiar/x509 for built-in certificates) stay separate chunks, loaded when used.
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: nothing here needs one (esbuild's binary comes as an optional dependency).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY hack/bundle.mjs hack/webhook-entry.mjs ./hack/
COPY src ./src
RUN npm run bundle && node dist/bundle/cli.mjs --version && mkdir dist/compile-cache

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/pod-identity-webhook/pod-identity-webhook
LABEL org.opencontainers.image.title="pod-identity-webhook" \
      org.opencontainers.image.description="Kubernetes mutating admission webhook that gives Pods AWS IAM roles through their ServiceAccount (IRSA); a drop-in for aws/amazon-eks-pod-identity-webhook" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /app
COPY --from=build --chown=0:0 /src/dist/bundle/ ./
# The Go webhook's manifests run `command: [/webhook, --in-cluster=false, ...]`: flags, no
# subcommand, port 443 (see the README, "Running the Go webhook's manifests").
COPY --from=build --chown=0:0 --chmod=0755 /src/dist/bundle/webhook /webhook
# Numeric, so the kubelet can enforce runAsNonRoot; the distroless :nonroot user.
USER 65532:65532
# V8's compiled code for the bundle's start, made here by this image's node, as the user and with
# the Node flags of the ENTRYPOINT (Node keys its compile cache by version, V8 flags and uid; keep
# this RUN's flags equal to the ENTRYPOINT's): the first answer comes ~18 ms sooner (bench, 12
# interleaved starts). Only read at run time (a read-only root filesystem is fine); another uid or
# other flags (/webhook's) simply use none.
COPY --from=build --chown=65532:65532 /src/dist/compile-cache /app/compile-cache
ENV NODE_COMPILE_CACHE=/app/compile-cache
RUN ["/nodejs/bin/node", "--disable-warning=DEP0169", "--max-semi-space-size=2", "--no-concurrent-recompilation", "/app/cli.mjs", "--version"]
EXPOSE 8443 443 9999
# node-fetch (under @kubernetes/client-node, used by `doctor`) calls url.parse(); Node warns about
# that (DEP0169) only outside node_modules, which a bundle is. Nothing the operator can act on.
# --max-semi-space-size=2: V8's young generation grows to 16 MiB per semi-space by default, for a
# webhook whose requests leave little alive; at 2 MiB idle RSS drops ~5 MiB and the peak under load
# ~10 MiB (serve, 2,000 ServiceAccounts; bench/startup-memory.mjs), with no clear cost in CPU per
# request in npm run bench. --no-concurrent-recompilation: V8 optimizes hot functions on the main
# thread instead of a background one; the background compiler's working memory stayed in RSS, and
# without it the peak under load drops from ~104 to ~87 MiB and idle RSS at 100,000 ServiceAccounts
# from ~127 to ~118 MiB (medians of 3-5 starts), throughput unchanged: the optimizing happens in the
# first seconds of load, not in the steady state. --optimize-for-size would save ~4 MiB more but
# lowers inlining: it costs CPU per request. (/webhook's shebang takes one flag: the first.)
ENTRYPOINT ["/nodejs/bin/node", "--disable-warning=DEP0169", "--max-semi-space-size=2", "--no-concurrent-recompilation", "/app/cli.mjs"]
CMD ["serve"]
