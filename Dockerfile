# syntax=docker/dockerfile:1
# strata's own image, built by strata itself (docs/kubernetes.md):
#
#   strata build -t strata .
#
# The builder stage installs the dependencies, bundles the CLI and compiles the native addon and the
# chroot helper (native/); the final stage holds only what strata needs at run time: Node, the
# bundle, the production dependencies, the addon and helper, runc, slirp4netns, uidmap (newuidmap and
# newgidmap, for rootless builds), git (git build contexts) and the CA certificates. It runs as the
# non-root user `strata` (uid 1001, with subordinate ids in /etc/subuid and /etc/subgid); run it as
# root (uid 0, e.g. Kubernetes `runAsUser: 0`) for --isolation=chroot.
#
# Behind a TLS-inspecting proxy or with a private npm registry: --secret id=extra-ca,src=<CA file>
# and --build-arg NPM_REGISTRY=<url>.
ARG NODE_MAJOR=20

FROM node:${NODE_MAJOR}-bookworm AS builder
ARG NPM_REGISTRY=
WORKDIR /src
COPY package.json package-lock.json binding.gyp ./
COPY native/ native/
COPY scripts/build-native.mjs scripts/
# `npm ci` runs strata's install script too: the addon and the chroot helper are compiled here.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=extra-ca,required=false,target=/run/secrets/extra-ca \
    set -eu; \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \
    if [ -n "$NPM_REGISTRY" ]; then export npm_config_registry="$NPM_REGISTRY"; fi; \
    npm ci --no-audit --no-fund; \
    test -f build/Release/strata_native.node; \
    test -x build/Release/strata-chroot
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_MAJOR}-bookworm-slim
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates git runc slirp4netns uidmap; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --uid 1001 --create-home --shell /usr/sbin/nologin strata; \
    echo 'strata:100000:65536' > /etc/subuid; \
    echo 'strata:100000:65536' > /etc/subgid
COPY --from=builder /src/package.json /opt/strata/
COPY --from=builder /src/bin/ /opt/strata/bin/
COPY --from=builder /src/dist/ /opt/strata/dist/
COPY --from=builder /src/node_modules/ /opt/strata/node_modules/
COPY --from=builder /src/build/Release/strata_native.node /src/build/Release/strata-chroot /opt/strata/build/Release/
RUN ln -s /opt/strata/bin/strata /usr/local/bin/strata && strata --version
# Registry credentials at one place whichever uid runs the image: mount a docker config there
# (Kubernetes: a kubernetes.io/dockerconfigjson Secret, deploy/kubernetes/).
ENV DOCKER_CONFIG=/home/strata/.docker
USER strata
WORKDIR /home/strata
ENTRYPOINT ["strata"]
CMD ["--help"]
