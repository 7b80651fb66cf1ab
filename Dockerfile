# syntax=docker/dockerfile:1
# One image recipe for every service: docker build --build-arg SERVICE=log -t logserver/log .
# SERVICE is auth, log, log-worker, tenant or all-in-one.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
# better-sqlite3 compiles from source when no prebuilt binary fits; the tools stay in the build stages.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/* \
 && corepack enable
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/chdb/package.json packages/chdb/
COPY packages/console/package.json packages/console/
COPY packages/shared/package.json packages/shared/
COPY packages/client/package.json packages/client/
COPY packages/testing/package.json packages/testing/
COPY services/auth/package.json services/auth/
COPY services/log/package.json services/log/
COPY services/log-worker/package.json services/log-worker/
COPY services/tenant/package.json services/tenant/
COPY services/all-in-one/package.json services/all-in-one/

# Compile every workspace package (make build does the same): services/<name>/dist/main.js, and
# bundle the console (packages/console/dist, served at /console by the log service and the all-in-one).
# Without packages/chdb: the embedded analytics engine (~550 MB) is for the all-in-one on a
# developer's machine; images talk to a ClickHouse server (docs/analytics.md).
FROM base AS build
RUN pnpm install --frozen-lockfile --filter '!@logserver/chdb'
COPY . .
RUN pnpm exec tsc -b tsconfig.build.json && node packages/console/build.mjs \
 && mkdir /out && for dir in packages/* services/*; do mkdir -p /out/$dir && cp -r $dir/package.json $dir/dist /out/$dir/; done \
 && cp packages/console/assets.mjs /out/packages/console/

# Tilt's live builds: sources synced in, node --watch restarts on change (Tiltfile).
FROM build AS dev
ARG SERVICE
RUN chown -R node:node /src
USER node
WORKDIR /src/services/${SERVICE}
ENV PORT=8080
CMD ["node", "--watch", "--conditions=development", "--import", "tsx", "src/main.ts"]

# Production dependencies of this one service and the workspace packages it uses.
FROM base AS deps
ARG SERVICE
RUN test -n "$SERVICE" || { echo "pass --build-arg SERVICE=auth|log|log-worker|tenant|all-in-one" >&2; exit 1; } \
 && pnpm install --frozen-lockfile --prod --filter "@logserver/${SERVICE}..."

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV PORT=8080 HOST=0.0.0.0 DATA_DIR=/tmp/data
WORKDIR /app
COPY --from=deps --chown=root:root /src /app
COPY --from=build --chown=root:root /out /app
WORKDIR /app/services/${SERVICE}
# The node image's unprivileged user (uid 1000); the code stays owned by root and read-only to it.
USER node
EXPOSE 8080
# Slim images have no curl: node itself asks /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
