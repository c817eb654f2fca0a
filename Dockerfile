# syntax=docker/dockerfile:1
# One image per deployable process, all from this file:
#   docker build --target resize    -t ghcr.io/imageflow/resize:<version> .
#   (targets: resize, filter, detection, gateway; `npm run images` builds and tags all four)
#
# The services run their TypeScript sources with `node --import tsx`: the repository has no
# separate JavaScript build (ESM + NodeNext, proto code generated as .ts), so compiling on load
# keeps one source of truth and stack traces pointing at the .ts files. The cost is a few hundred
# milliseconds of start-up, which the startup probes allow for.

ARG NODE_IMAGE=node:22-bookworm-slim

# ── build stage: production dependencies only, from the lockfile ────────────────────────────
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
# .npmrc: onnxruntime-node-install=skip (its install script would fetch CUDA libraries).
COPY package.json package-lock.json .npmrc ./
# --omit=dev drops the cdk8s CLI and schema packages; optional deps stay (sharp's native binaries).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ── runtime base: sources, non-root user with a fixed UID (matches the constructs' runAsUser) ─
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# tsx caches transpiled files under the temp dir: /tmp is the only writable path in the pod.
ENV NODE_ENV=production TMPDIR=/tmp HOME=/tmp
# At most 2 glibc malloc arenas (default 8 × cores, one per allocating libvips thread): lower peak
# RSS. It must be in the environment before node starts; the constructs and the local launcher
# set it too, from services/shared/process-env.ts, and a test keeps this line equal to it.
ENV MALLOC_ARENA_MAX=2
RUN groupadd --system --gid 10001 imageflow \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin imageflow
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY proto ./proto
COPY services ./services
USER 10001:10001
# --initial-old-space-size: services/shared/node-flags.ts says why (a test keeps the two equal).
ENTRYPOINT ["node", "--enable-source-maps", "--initial-old-space-size=128", "--import", "tsx"]

FROM runtime AS resize
ENV GRPC_PORT=9090 METRICS_PORT=9464
EXPOSE 9090 9464
CMD ["services/resize/main.ts"]

FROM runtime AS filter
ENV GRPC_PORT=9090 METRICS_PORT=9464
EXPOSE 9090 9464
CMD ["services/filter/main.ts"]

FROM runtime AS detection
ENV GRPC_PORT=9090 METRICS_PORT=9464
EXPOSE 9090 9464
CMD ["services/detection/main.ts"]

FROM runtime AS gateway
ENV HTTP_PORT=8080
EXPOSE 8080
CMD ["services/gateway/main.ts"]
