# The Nimbus image: the operator (`nimbus run`), the placement extender (`nimbus extender`),
# the router pods' agent (`nimbus router-agent`: nftables, iproute2, keepalived from Debian) and
# the chart's test (`nimbus check`). Slim Python, dependencies pinned by requirements.lock,
# non-root, nothing but the package. Build: `make image`.
ARG PYTHON=python:3.11.14-slim-bookworm

FROM ${PYTHON} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nftables iproute2 procps keepalived haproxy \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
# The chart runs it with a read-only root filesystem; /tmp is an emptyDir.
USER 65532:65532
ENTRYPOINT ["nimbus"]
CMD ["run"]
