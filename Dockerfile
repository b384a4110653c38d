# syntax=docker/dockerfile:1.7
# graphwarden: multi-stage build on Node 22 (Debian bookworm), runs as the non-root `node` user.

# --- build: compile TypeScript with the full toolchain (better-sqlite3 builds natively here) ---
FROM node:22-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: only runtime dependencies, built on the same Debian release as the runtime ---
FROM node:22-bookworm AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# --- runtime ---
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root data ./data
COPY --chown=root:root rules ./rules
# State (snapshots, audit log, approvals) and certificates are mounted; only these are writable.
RUN mkdir -p /var/lib/graphwarden /etc/graphwarden/certs && chown node:node /var/lib/graphwarden
VOLUME ["/var/lib/graphwarden"]
USER node
# 8443: the proxy (agents' Graph base URL); 9464: admin (/metrics, /healthz, /readyz, API).
EXPOSE 8443 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.GRAPHWARDEN_ADMIN_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve", "--config", "/etc/graphwarden/config.yaml"]
