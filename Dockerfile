# cloudmon-metrics-reporter: the bundle on the current Node LTS, nothing else.
#
#   docker build -t cloudmon-metrics-reporter .
#   docker run -v "$PWD/config.yaml:/config.yaml:ro" cloudmon-metrics-reporter
#   docker run -v "$PWD/config.yaml:/config.yaml:ro" cloudmon-metrics-reporter cloudmon-metrics-reporter --config /config.yaml --once
#
# test/Dockerfile.test.ts replays both stages without Docker on every `npm test`.

# Build: bundle the program from src/ alone (scripts/build.mjs). The bundle
# carries every dependency, so the runtime stage needs no node_modules.
FROM node:26.10-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Runtime: Node, the bundle and the command on PATH. No ENTRYPOINT, so the
# documented `docker run IMAGE cloudmon-metrics-reporter --config …` and a
# Kubernetes `command: ["cloudmon-metrics-reporter"]` both work. No example
# configuration (it holds an example secret): mount yours at /config.yaml.
FROM node:26.10-slim
ENV NODE_ENV=production \
    PATH=/opt/cloudmon-metrics-reporter/bin:$PATH
COPY --from=build /app/dist/main.js /app/dist/wiring.js /app/dist/package.json /app/dist/THIRD_PARTY_NOTICES.txt /opt/cloudmon-metrics-reporter/
COPY deploy/image/cloudmon-metrics-reporter /opt/cloudmon-metrics-reporter/bin/
# The default --config (config.yaml) is then /config.yaml too.
WORKDIR /
USER node
CMD ["cloudmon-metrics-reporter", "--config", "/config.yaml"]
