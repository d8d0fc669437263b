# One image for every role: `switchboard <role>` picks what the container runs
# (docker-compose.yml runs each role as its own service).
#
# Node 24 is the current LTS; package.json's engines ask for >= 22.15
# (fastify's light-my-request needs cookie 2, which needs Node 22; the
# OpenTelemetry SDK 3 packages need 22.15). The tag
# names the exact release so a rebuild gets the same runtime.

# --- install: production dependencies only, from the lock as committed -------
FROM node:24.22.3-bookworm-slim AS install
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` with the lock present installs exactly the locked versions;
# `npm ci` would refuse this lock (npm 11 wants other platforms' optional
# packages in it, which the registry this project uses does not serve).
# --omit=dev leaves the test and build tools out (prune and install in one
# step); the cache is dropped in the same layer so the stage stays small.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime: node_modules and the code that runs, nothing else --------------
FROM node:24.22.3-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=install /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
# The folders the CLI's imports reach (deploy/image.test.ts checks the list
# against the import graph); tests and all .dockerignore names stay out.
COPY bin ./bin
COPY cli ./cli
COPY analytics ./analytics
COPY clickhouse ./clickhouse
COPY evals ./evals
COPY eventlog ./eventlog
COPY events ./events
COPY gateway ./gateway
COPY ingest ./ingest
COPY simulator ./simulator
COPY config ./config
# data/ (chDB, the local event log, the gateway's outbox) is the one place the
# process writes; a volume mounted there starts owned by node from this.
RUN mkdir -p /app/data/outbox && chown -R node:node /app/data
USER node
# Every role has a health endpoint of its own (docker-compose.yml sets the
# URL per service); the default is the gateway's, which `all` also serves.
# No curl in the image: Node's own fetch.
ENV HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL).then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/switchboard.js"]
CMD ["all"]
