# One image recipe for the apps; pick one with a target:
#   docker build --target api -t candlestack-api .
# (docker-compose.yml builds ingest, worker and api this way.)

FROM node:20-slim AS base
# The version of package.json's "packageManager". Installed with npm, not
# corepack: corepack's download of pnpm is not available everywhere.
ARG PNPM_VERSION=10.34.9
RUN npm install -g pnpm@${PNPM_VERSION} && npm cache clean --force
ENV CI=true
WORKDIR /app

# Every package of the lockfile, downloaded into pnpm's store. This layer
# depends on the lockfile alone, so a source edit does not download again.
FROM base AS fetch
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch

# The compiled code of every package.
FROM fetch AS build
COPY . .
RUN pnpm install --offline --frozen-lockfile && pnpm -r build

# Production dependencies only, installed afresh (an install with --prod over
# a full node_modules would leave the dev packages in place).
FROM fetch AS prod
COPY . .
RUN pnpm install --offline --frozen-lockfile --prod

# What runs: the sources (small; in case an app reads files beside its code),
# production node_modules and the compiled code; not pnpm's store.
FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod /app ./
COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/apps/ingest/dist apps/ingest/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY --from=build /app/apps/api/dist apps/api/dist
USER node

# node is PID 1 and receives SIGTERM itself: each app shuts down on it.
FROM runtime AS ingest
CMD ["node", "apps/ingest/dist/main.js"]

FROM runtime AS worker
CMD ["node", "apps/worker/dist/main.js"]

FROM runtime AS api
ENV HOST=0.0.0.0 PORT=3000
EXPOSE 3000
CMD ["node", "apps/api/dist/main.js"]
