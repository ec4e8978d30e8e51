# syntax=docker/dockerfile:1
#
# docker build -t globant-api . && docker run -p 8000:8000 -e API_KEY=change-me globant-api
#
# Four stages, all on the same Debian base so that the native module compiled in `deps`
# (better-sqlite3) runs unchanged in `runtime`:
#   toolchain  node:24-slim + python3/make/g++ (node-gyp needs them when no prebuilt binary fits)
#   build      every dependency, `npm run build` -> dist/
#   deps       production dependencies only (`npm ci --omit=dev`)
#   runtime    node:24-slim, no compiler, no devDependencies, non-root; dist/ + node_modules only
# test/infra/dockerfile-runtime.test.ts performs the runtime stage's steps without Docker.
#
# Node.js 24 LTS, pinned by digest: the tag moves with every Node and Debian update, the digest
# does not, so a rebuild is the same image until the digest here is changed on purpose. This one
# is the multi-platform index of node:24.19.0-bookworm-slim (node:24-slim when it was taken). To
# move on: `docker buildx imagetools inspect node:24-slim` prints the current digest; put it in
# both FROM lines (a test keeps them equal) and run the CI docker job.

FROM node:24-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df AS toolchain
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM toolchain AS build
# The lock files first: this layer and `npm ci` stay cached until a dependency changes.
COPY package*.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM toolchain AS deps
COPY package*.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:./var/hr.db
WORKDIR /app
# The application files stay owned by root (read-only to the app); only var/ is writable.
COPY package*.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p var && chown node:node var
# `node` is the unprivileged user (uid 1000) the official image ships.
USER node
EXPOSE 8000
# node:24-slim has no curl: ask Node itself. /health answers 200 when the database answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node as PID 1, not `npm start`: npm does not forward SIGTERM, and the server drains on SIGTERM.
# The heap flags are src/node-flags.ts's (a test keeps them equal).
CMD ["node", "--max-old-space-size=128", "--max-semi-space-size=4", "--no-allocation-site-pretenuring", "dist/server.js"]
