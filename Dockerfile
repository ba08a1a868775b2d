# Roster container image: Node 24 (the current LTS) runs the compiled JavaScript with production
# dependencies only — no TypeScript, tsx or esbuild in the image. Three stages: build, production
# dependencies, run. (No Docker engine runs on the development machines; this file is checked by
# reading.)

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# argon2's install script (allowed in package.json) loads its prebuilt binary on Node 24, so no
# compiler is needed here; esbuild's is denied and, as a dev dependency, not installed at all.
FROM node:24-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# Node 24 lets V8's young generation grow to 128 MB (Node 20: 32 MB), which kept ~90 MB more in an
# idle Roster for no throughput we could measure; 16 MB semi-spaces are Node 20's size. Override
# NODE_OPTIONS to change it.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    HOST=0.0.0.0 \
    PORT=3000 \
    ROSTER_DATA_DIR=/data
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY views ./views
COPY public ./public
COPY drizzle ./drizzle
# The embedded database lives in /data; mount a volume there (or set DATABASE_URL).
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]
