# oob-backup image: one image for both roles (API and worker); docker-compose.yaml picks the role by
# its command. Build: `docker build -t oob-backup .`

# --- build: compile TypeScript (src/ -> dist/), bundle the screens (ui/ -> dist/ui); dev dependencies -----
FROM node:20-bookworm-slim AS build
# python3, make, g++, libdeflate-dev: node-gyp builds the libdeflate binding (native/libdeflate),
# which inflates archives on restore and verification, during `npm ci` (scripts/build-native.mjs;
# OOB_REQUIRE_LIBDEFLATE=1: a failed build fails the image instead of falling back to zlib).
# The same build makes the file times binding (restores set mtimes to the nanosecond).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libdeflate-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build-native.mjs ./scripts/
COPY native ./native
RUN OOB_REQUIRE_LIBDEFLATE=1 npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The backup screens: bundled by esbuild into dist/ui (served by the API at /).
COPY ui ./ui
COPY scripts/build-ui.ts ./scripts/
RUN npm run build

# --- runtime: production dependencies, compiled JavaScript, the MariaDB clients -----------------
# No tsx and no TypeScript here: they are development dependencies, and the image runs dist/.
FROM node:20-bookworm-slim AS runtime
# tini: PID 1 that forwards SIGTERM to node (graceful shutdown of running jobs) and reaps the
#   mariadb/mariadb-dump child processes.
# mariadb-client: `mariadb-dump` and `mariadb`, used for SQL dumps and SQL restores.
# rclone, age: off-site copies (transport and encryption, README "Off-site copies").
# libdeflate0: the library the libdeflate binding (built in the build stage) links.
# findutils: `xargs`, which hands a large tree's directories to parallel `rm -rf` after a restore
#   (src/engine/fs/remove-tree.ts; without it the removal is sequential, and slower).
# No redis-server: Redis runs as its own service (see docker-compose.yaml).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini mariadb-client ca-certificates rclone age libdeflate0 findutils \
 && rm -rf /var/lib/apt/lists/*

# GZIP_INFLATE=libdeflate: the image has the binding, so a worker that cannot load it refuses to start.
ENV NODE_ENV=production \
    GZIP_INFLATE=libdeflate \
    BACKUP_DIR=/backup \
    VOLUMES_DIR=/mnt \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no compiler here; the binding comes from the build stage (msgpackr-extract, the
# other package with an install script, loads its prebuilt optional package either way).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/libdeflate/build/Release/oob_libdeflate.node ./native/libdeflate/build/Release/
COPY --from=build /app/native/libdeflate/build/Release/oob_file_times.node ./native/libdeflate/build/Release/

# A fresh named volume mounted on /backup takes over this directory's owner, so the API (user node)
# can write SQL uploads and pass its readiness check.
RUN mkdir -p /backup && chown node:node /backup

# Default user: node (uid 1000), enough for the API, which only lists volumes and archives.
# The worker must run as root and gets `user: "0:1000"` (root, group node) in docker-compose.yaml: archiving reads every
# file of a MariaDB data directory (owned by mysql, modes 0660/0700), and restoring writes files
# back with their original owners (chown), which needs root (CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE).
USER node

EXPOSE 3000
# Liveness of the API; no curl in the slim image, so node's fetch. With TLS_CERT_FILE the API speaks
# HTTPS only, usually with a certificate not issued for 127.0.0.1, hence no verification here.
# Worker containers have no HTTP server: docker-compose.yaml disables this check for them.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD node -e "const s=process.env.TLS_CERT_FILE?'https':'http';if(s==='https')process.env.NODE_TLS_REJECT_UNAUTHORIZED='0';fetch(s+'://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(8000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

ENTRYPOINT ["/usr/bin/tini", "--"]
# All-in-one (API + scheduler + one worker); needs REDIS_URL, as the image has no redis-server.
# --expose-gc lets the archive and restore code keep its buffers' garbage small (src/engine/gzip/gc-nudge.ts).
CMD ["node", "--expose-gc", "dist/start.js"]
