# One image for both roles; docker-compose.yml picks the role with the command.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install's postinstall applies patches/npm to node_modules (patch-package).
COPY patches/npm ./patches/npm
RUN npm install --no-audit --no-fund
# The runtime folders and the operators' tools only: never dev/, bench/ or test/ (test/unit/production-build.test.ts).
COPY tsconfig.json tsconfig.build.json ./
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY worker ./worker
COPY platform ./platform
COPY policies ./policies
COPY cli ./cli
RUN npm run build && npm prune --omit=dev

# The SDK's native bridge with patches/ applied, as dev/tools/rust.sh builds it outside Docker.
FROM rust:1.95-bookworm AS bridge
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY --from=build /app/node_modules/@temporalio/core-bridge ./core-bridge
COPY patches ./patches
RUN rm -rf core-bridge/releases \
 && for p in patches/sdk-core-*.patch; do patch -s -p1 -d core-bridge < "$p"; done \
 && cd core-bridge && cargo build --release --locked \
 && mkdir -p /out && cp target/release/libtemporal_sdk_typescript_bridge.so /out/index.node

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=bridge /out/index.node /tmp/index.node
RUN target="$(uname -m)-unknown-linux-gnu" \
 && mv /tmp/index.node "node_modules/@temporalio/core-bridge/releases/$target/index.node"
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY package.json ./
# docker-compose.yml's volume of Temporal's certificates takes this folder's owner when first mounted, so that
# dist/cli/temporal-certificates.js, run as node, can write them.
RUN mkdir -p /etc/temporal-tls && chown node:node /etc/temporal-tls && chmod 700 /etc/temporal-tls
USER node
CMD ["node", "dist/api/main.js"]
