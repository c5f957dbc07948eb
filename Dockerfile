# mailpass: the web panel and SMTP submission in one container.
#   docker build -t mailpass .
#   docker run -d --name mailpass -p 8080:8080 -p 587:2587 -p 465:2465 \
#     -e SMTP_HOSTNAME=mail.example.com -v mailpass-data:/data mailpass
# See docs/operations.md.

# Build: all dependencies (TypeScript), the native modules argon2 and better-sqlite3, then
# `npm run build`; the dev dependencies are pruned at the end so that the runtime stage can copy
# node_modules as it is, native builds included, without compilers of its own.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here; the two native modules
# then run their own install scripts (a prebuilt binary, else a compile with the tools above).
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild argon2 better-sqlite3
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY src/ src/
# The panel's static files: the build hashes and compresses them into dist/assets/.
COPY public/ public/
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime: production dependencies, the compiled server with its built static files, its templates.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    SMTP_PORT=2587 \
    SMTPS_PORT=2465 \
    PUBLIC_SMTP_PORT=587 \
    PUBLIC_SMTPS_PORT=465
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY bin/ bin/
COPY views/ views/
COPY locales/ locales/
# The application files stay root's (read-only to the server); only /data belongs to its user.
RUN ln -s /app/bin/mailpass.js /usr/local/bin/mailpass \
 && mkdir -p /data \
 && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080 2587 2465
# No curl in a slim image: node itself asks the panel (on HOST, or loopback when HOST is a
# wildcard), which answers 200 only while the database answers and the SMTP listeners accept.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/healthcheck.js"]
# SIGTERM lets in-flight requests and messages finish (10 s at most): give `docker stop` a bit more.
STOPSIGNAL SIGTERM
# Through the CLI: bin/mailpass.js sizes libuv's thread pool (one thread a core, 2 to 4) before
# anything uses it; UV_THREADPOOL_SIZE set here or by `docker run -e` wins.
CMD ["node", "bin/mailpass.js", "serve"]
