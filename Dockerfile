# Herald's image: the static binary and the CA certificates, nothing else.
#
# Build it with `make image`, which compiles bin/… outside any container
# (CGO_ENABLED=0, -trimpath, the version stamped with -ldflags) and builds
# this file with podman or docker in a context holding only `herald` and
# `ca-certificates.crt`. No base image is pulled: the final and only stage
# is scratch.
FROM scratch

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Hosted checkout and authoritative webhook delivery" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# Deliveries go to merchants' https endpoints: Go reads this bundle.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY herald /herald

# Inside a container, listen on its own interfaces; the admin port carries
# /metrics, /healthz and /readyz, never published to the internet.
ENV HERALD_ADDR=0.0.0.0:8080 \
    HERALD_ADMIN_ADDR=0.0.0.0:9090

# Nobody: no passwd file is needed for a numeric user.
USER 65532:65532
EXPOSE 8080 9090

ENTRYPOINT ["/herald"]
CMD ["serve"]
