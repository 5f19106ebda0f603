# symphony's own image, for users: a gateway and autoscaler that drives the Docker engine it is
# given (mount its socket). Runs the docker runtime on one host, or --runtime swarm on a manager.
#   docker build -t symphony .
#   docker run -d -v /var/run/docker.sock:/var/run/docker.sock -p 8080:8080 symphony --image my-api
# Node 24 LTS on Debian 13: uWebSockets.js's native binaries need glibc >= 2.38, which this base
# has (2.41), so the image runs natively on any host with Docker, whatever the host's own glibc.
# Tests and CI build an equivalent image with no registry: scripts/build-symphony-image.sh.
FROM node:24-trixie-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
COPY workers ./workers
COPY bin ./bin
# test/ and bench/ are not copied: tsc compiles what the include patterns find.
RUN npx tsc -p tsconfig.json
RUN npm prune --omit=dev --no-audit --no-fund \
  && rm -rf dist/test dist/bench

FROM node:24-trixie-slim
ENV NODE_ENV=production
# glibc's malloc with a fixed mmap threshold (128 KiB, its default start): blocks that large are
# mapped and unmapped on their own instead of the threshold rising to the largest block freed,
# which kept freed buffers and their pages in the heaps for good. glibc reads this only when the
# process starts. Why and what it gives: docs/performance.md, "Memory over time".
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
# The admin listener (9180) binds 127.0.0.1 unless --admin-host says otherwise: not exposed.
EXPOSE 8080
# Runs as root: the Docker socket is root's (or the docker group's, whose id differs per host).
ENTRYPOINT ["node", "/app/bin/symphony.js"]
