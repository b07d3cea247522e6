# Build stage: compile and bundle. The bundle (dist/) carries every
# dependency, so the runtime image needs no node_modules.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/dist ./dist
COPY config.yaml /etc/cloudmon-metrics-reporter/config.yaml
# The image's own unprivileged user.
USER node
ENTRYPOINT ["node", "dist/main.js"]
CMD ["--config", "/etc/cloudmon-metrics-reporter/config.yaml"]
