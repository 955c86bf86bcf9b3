# steerdns container image: Node 24 LTS (slim), non-root, port 53 and ICMP through capabilities.
# Node 24 is the newest LTS line CI runs the suite on (.ci/run: 20, 22, 24); it has security support until
# April 2028, 22 until April 2027 (https://nodejs.org/en/about/previous-releases).
#   docker build -t steerdns .
#   docker run --cap-add NET_BIND_SERVICE --cap-add NET_RAW -p 53:53/udp -p 53:53/tcp \
#     -v $PWD/steerdns.yaml:/etc/steerdns/steerdns.yaml:ro steerdns
FROM node:24-bookworm-slim AS build
# A C compiler for the optional batched-UDP module (native/, scripts/build-native.js; Node's headers come with
# the image). Without it the build prints why and the server uses node:dgram.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci
COPY src ./src
COPY scripts ./scripts
COPY native ./native
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# iputils-ping for icmp_ping/udp_icmp monitors; libcap2-bin to let node bind port 53 without root.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iputils-ping libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f /usr/local/bin/node)" \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && groupadd --system steerdns && useradd --system --gid steerdns --home /var/lib/steerdns --create-home steerdns
WORKDIR /opt/steerdns
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# build/ exists even when the module was not built (scripts/build-native.js creates it).
COPY --from=build /src/build ./build
COPY package.json ./
# The status page's files (served at / by the status server).
COPY web ./web
COPY geoip ./geoip
COPY config/docker.yaml /etc/steerdns/steerdns.yaml
USER steerdns
EXPOSE 53/udp 53/tcp
# The status API stays on the container's loopback unless the config says otherwise; the health check uses it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:9153/healthz', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/steerdns/dist/cli.js"]
CMD ["serve", "-c", "/etc/steerdns/steerdns.yaml"]
