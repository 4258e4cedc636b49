# Nimbus: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NIMBUS := $(BIN)/nimbus
KUBECTL := $(NIMBUS) devcloud kubectl --
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The venv is installed from the locks, never from what the registry serves today: the pinned
# dependencies first, then those taken without their own (pyproject's [tool.nimbus], by hash), then
# Nimbus itself without resolving anything (`make lock` moves the pins). pip check lets pass only
# the requirements that those no-deps packages leave uninstalled on purpose.
NODEPS = $(shell sed -n 's/==.*//p' requirements-nodeps.lock | paste -sd'|')
LOCKS = requirements.lock requirements-test.lock requirements-nodeps.lock
$(VENV)/.installed: pyproject.toml $(LOCKS) | $(BIN)/pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
	  --only-binary :all: -r requirements-nodeps.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	! $(BIN)/pip check | grep -viE \
	  '^No broken requirements found\.$$|^($(NODEPS)) [^ ]+ requires [^ ]+, which is not installed\.$$'
	touch $@

.PHONY: deps
deps: ## install system packages the tests need (Debian's etcd-server, shellcheck, nftables, haproxy, chromium)
	@command -v etcd >/dev/null || { \
	  echo "installing etcd-server (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq etcd-server; }
	@command -v shellcheck >/dev/null || { \
	  echo "installing shellcheck (apt-get): make test lints the e2e scripts"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq shellcheck; }
	@command -v nft >/dev/null && command -v haproxy >/dev/null && command -v keepalived >/dev/null \
	  && command -v ip >/dev/null || { \
	  echo "installing nftables, haproxy, keepalived, iproute2 (apt-get): the routers' and load"; \
	  echo "balancers' data paths are tested on them in network namespaces"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    nftables haproxy keepalived iproute2; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (apt-get): the dashboard's tests drive it with Playwright"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }
	@command -v go >/dev/null || { echo "Go >= 1.26 is needed to build the control plane"; exit 1; }

.PHONY: venv
venv: $(VENV)/.installed ## create .venv with Nimbus and its test tools

.PHONY: generate
generate: build ## write crds/, the chart's generated files, the docs' reference and upstream CRDs
	$(NIMBUS) generate
	$(NIMBUS) devcloud upstream

.PHONY: lint
lint: venv ## ruff (lint and format check), mypy strict, and the layers' import contracts
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: format
format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix operator tests bench
	$(BIN)/ruff format operator tests bench

.PHONY: build
build: deps venv ## build the local cloud's binaries and the tests' OpenTofu (cached in ~/.cache/nimbus)
	$(NIMBUS) devcloud build

.PHONY: test
test: lint build ## lint, then unit and integration tests (integration starts its own control plane)
	$(BIN)/pytest

.PHONY: bench
bench: build ## benchmarks: figures and ratios, not pass/fail (N=100 servers)
	$(BIN)/python bench/reconcile.py --servers 100
	$(BIN)/python bench/placement.py
	@if $(BIN)/python -c 'import nova' 2>/dev/null; then \
	  $(BIN)/python bench/placement_oracle.py --cases 1000; \
	else echo "Nova 34 is not installed (make bench-nova): the placement oracle is skipped"; fi
	$(BIN)/python bench/stack.py
	$(BIN)/python bench/api.py --servers 1000
	$(BIN)/python bench/l3.py

.PHONY: bench-nova
bench-nova: venv ## install Nova 34 (the `bench` extra) so that bench/placement.py compares with it
	$(BIN)/pip install -e '.[bench]'

.PHONY: demo
demo: build ## the local cloud: control plane, simulators, operator, examples; waits for ACTIVE
	@start=$$(date +%s); \
	$(NIMBUS) devcloud up && \
	$(KUBECTL) apply --server-side --field-manager=nimbus-demo -f examples/00-project.yaml && \
	$(KUBECTL) wait --for=jsonpath='{.status.status}'=ACTIVE projects.identity.nimbus.dev/demo \
	  --timeout=120s && \
	$(KUBECTL) apply --server-side --field-manager=nimbus-demo -R -f examples/ && \
	echo "waiting for every server to be ACTIVE ..." && \
	$(KUBECTL) wait --for=jsonpath='{.status.status}'=ACTIVE servers.compute.nimbus.dev --all \
	  -n demo --timeout=300s && \
	echo "the demo cloud is up: servers ACTIVE $$(( $$(date +%s) - start ))s after make demo began"
	@echo
	$(KUBECTL) get nimbus -A
	@echo
	@echo "Use it:   (both lines: a kubectl already on your PATH would otherwise be used)"
	@$(NIMBUS) devcloud env | sed 's/^/          /'
	@echo "          kubectl get servers -A      (or, with neither: $(NIMBUS) devcloud kubectl get servers -A)"
	@$(KUBECTL) wait --for=condition=Ready users.identity.nimbus.dev/alice --timeout=60s >/dev/null
	@echo
	@echo "Or as OpenStack's own tools do, as alice, the demo project's admin (examples/07-users.yaml):"
	@$(NIMBUS) devcloud openstack-env | sed 's/^/          /'
	@echo "          export OS_PASSWORD='correct horse battery staple'"
	@echo "          openstack server list"
	@OS_CLIENT_CONFIG_FILE=$$($(NIMBUS) devcloud openstack-env | sed -n 's/^export OS_CLIENT_CONFIG_FILE=//p') \
	  OS_CLOUD=nimbus-demo OS_PASSWORD='correct horse battery staple' $(BIN)/openstack server list
	@echo
	@echo "Or in a browser, as alice: Horizon, the OpenStack dashboard (docs/dashboard.md), at"
	@echo "          $$($(BIN)/python -c 'from nimbus.devcloud import cluster; print(cluster.DevCloud().dashboard_url())')"
	@echo "          user name: alice    password: correct horse battery staple"
	@echo "Stop it:  make demo-down              (make demo-destroy also deletes its data)"

IMAGE ?= ghcr.io/nimbus-cloud/nimbus:0.1.0
DASHBOARD_IMAGE ?= ghcr.io/nimbus-cloud/nimbus-dashboard:0.1.0

.PHONY: image
image: ## build the operator/extender image and the dashboard's (needs a Docker engine)
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { \
	  echo "make image needs a Docker engine, and none answers here (docker info failed):"; \
	  echo "build the image where one runs (make e2e does, on kind), or start the engine"; exit 1; }
	docker build -t $(IMAGE) .
	docker build -f dashboard/Dockerfile -t $(DASHBOARD_IMAGE) .

.PHONY: docs
docs: venv ## the documentation site (mkdocs-material), built strict into site/
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

.PHONY: e2e
e2e: ## end to end on kind: KubeVirt, CDI, Multus, the chart, a real VM booted (needs Docker)
	bash e2e/run.sh

# `make lock` pins what pyproject.toml added and keeps every other pin (the old locks are its
# constraints); `make lock UPGRADE=1` moves them all to what the registry serves today.
KEEP_PINS = $(if $(UPGRADE),,-c requirements-test.lock)

.PHONY: lock
lock: ## pin new dependencies, keeping the others (UPGRADE=1 moves them all): both locks
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && \
	.lock-venv/bin/pip install --quiet --disable-pip-version-check $(KEEP_PINS) . && \
	{ echo "# The image's Python dependencies, pinned: \`make lock\` (a clean venv of the package, frozen)."; \
	  .lock-venv/bin/pip freeze --exclude nimbus; } > requirements.lock.new && \
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -c requirements.lock.new \
	  $(KEEP_PINS) '.[test]' && \
	{ echo "# The venv of make test and CI: requirements.lock's pins plus the test extra's, pinned by \`make lock\`."; \
	  .lock-venv/bin/pip freeze --exclude nimbus; } > requirements-test.lock.new && \
	.lock-venv/bin/pip check && \
	.lock-venv/bin/pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
	  --dest .lock-venv/nodeps $$($(PYTHON) -c 'import tomllib; \
	    print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["nimbus"]["test-no-deps"])') && \
	{ echo "# Installed without their dependencies (pyproject's [tool.nimbus]), by hash: \`make lock\`."; \
	  for wheel in .lock-venv/nodeps/*.whl; do name=$${wheel##*/}; IFS=- read -r dist version _ <<<"$$name"; \
	    echo "$$dist==$$version --hash=sha256:$$(sha256sum "$$wheel" | cut -d' ' -f1)"; done; \
	} > requirements-nodeps.lock.new && rm -rf .lock-venv && \
	mv requirements.lock.new requirements.lock && mv requirements-test.lock.new requirements-test.lock && \
	mv requirements-nodeps.lock.new requirements-nodeps.lock
	@echo "pinned; make venv reinstalls .venv from the new locks (rm -rf .venv for a clean one)"

.PHONY: demo-down
demo-down: venv ## stop the local cloud, keeping its data
	$(NIMBUS) devcloud down

.PHONY: demo-destroy
demo-destroy: venv ## stop the local cloud and delete its data
	$(NIMBUS) devcloud destroy
