# logserver: the commands people run. Each prints what it does and fails with the fix in the message.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PNPM_VERSION := 10.34.9
# kubectl fetched by scripts/test-prerequisites.sh lives in .tools/bin, ahead of an older one on PATH.
export PATH := $(CURDIR)/.tools/bin:$(PATH)
PNPM := $(shell command -v pnpm >/dev/null 2>&1 && echo pnpm || echo "npx --yes pnpm@$(PNPM_VERSION)")

.PHONY: rotate-signing-key rotate-stream-key help check-node install install-analytics console start test test-prerequisites token lint typecheck build clean benchmark up down compose benchmark-cluster

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

check-node:
	@node -e 'const [major]=process.versions.node.split(".").map(Number); if (major < 20) { console.error("Node.js " + process.versions.node + " is too old: install Node.js 20 or later (https://nodejs.org)"); process.exit(1) }' \
	  || { echo "Node.js is missing or too old: install Node.js 20 or later, then run make again." >&2; exit 1; }

# The embedded ClickHouse engine (chdb, ~550 MB) is packages/chdb, a package nothing depends on: the
# lean install leaves it out, make test and ANALYTICS=chdb add it (README "Analytics").
CHDB_STAMP := packages/chdb/node_modules/.installed

node_modules/.modules.yaml: package.json pnpm-lock.yaml $(wildcard packages/*/package.json services/*/package.json)
	@echo "==> installing dependencies with pnpm $(PNPM_VERSION) (without the analytics engine)" >&2
	@$(PNPM) install --frozen-lockfile --filter '!@logserver/chdb' >&2 || { echo "pnpm install failed: check network access to the npm registry, then run make again." >&2; exit 1; }
	@touch $@

$(CHDB_STAMP): node_modules/.modules.yaml packages/chdb/package.json
	@echo "==> installing the embedded analytics engine (chdb, ~550 MB on disk)" >&2
	@$(PNPM) install --frozen-lockfile >&2 || { echo "pnpm install failed: check network access to the npm registry, then run make again." >&2; exit 1; }
	@touch $@

install: check-node node_modules/.modules.yaml ## install what is missing (without chdb: make install-analytics adds it)

install-analytics: install $(CHDB_STAMP) ## install the embedded analytics engine too (chdb, ~550 MB; make test and ANALYTICS=chdb need it)

console: install ## bundle the browser console into packages/console/dist (served at /console)
	@echo "==> building the console (esbuild: packages/console/build.mjs)"
	@node packages/console/build.mjs || { echo "the console build failed: see the esbuild errors above" >&2; exit 1; }

# A relative DATA_DIR is taken from where make was run, not from the package folder the server starts in.
DATA_DIR_ABS = $$(realpath -m -- "$${DATA_DIR:-data}")

start: install $(if $(filter chdb,$(ANALYTICS)),install-analytics) console ## run the all-in-one server on http://127.0.0.1:8080 (SQLite in ./data; HOST=0.0.0.0 to expose it; the console at /console)
	@echo "==> starting the all-in-one server (Ctrl-C to stop)"
	@data_dir=$(DATA_DIR_ABS); cd services/all-in-one && DATA_DIR="$$data_dir" $(PNPM) start

token: install ## print a token, and only the token: make token ROLE=viewer TENANT=demo [SUB=alice] [TTL=1h]
	@[ -n "$(ROLE)" ] || { node --conditions=development --import tsx scripts/mint-token.ts --help >&2; echo "make token: ROLE is required, e.g. make token ROLE=viewer TENANT=demo" >&2; exit 2; }
	@DATA_DIR=$(DATA_DIR_ABS) node --conditions=development --import tsx scripts/mint-token.ts --tenant "$(or $(TENANT),demo)" --role "$(ROLE)" \
	  $(if $(SUB),--sub "$(SUB)") $(if $(TTL),--ttl "$(TTL)")

lint: install ## biome lint + format check
	@echo "==> biome check"
	@$(PNPM) exec biome check .

typecheck: install-analytics ## tsc over the whole workspace (packages/chdb needs chdb's types, so it installs the engine as make test does)
	@echo "==> tsc --noEmit"
	@$(PNPM) exec tsc -p tsconfig.json
	@$(PNPM) exec tsc -p packages/console/tsconfig.json

test-prerequisites: ## install what the suite spawns: nginx, chromium (apt-get, as root), kubectl (npm, into .tools/bin)
	@bash scripts/test-prerequisites.sh

test: install-analytics test-prerequisites lint typecheck console ## lint, typecheck and every test; prints 'N passed, N failed'
	@echo "==> vitest run, two files at a time (projects sqlite and mongodb-double: the HTTP suites again on the MongoDB store, docs/mongodb.md)"
	@status=0; VITEST_REPORT=.vitest-report.json $(PNPM) exec vitest run --project sqlite --project mongodb-double --maxWorkers=2 --minWorkers=1 || status=$$?; \
	  echo "==> vitest run, one file at a time (the CPU-heavy files: SERIAL_SUITES in vitest.config.ts)"; \
	  VITEST_REPORT=.vitest-report-serial.json $(PNPM) exec vitest run --project sqlite-serial --project mongodb-double-serial --maxWorkers=1 --minWorkers=1 || status=$$?; \
	  node scripts/test-summary.mjs .vitest-report.json .vitest-report-serial.json; exit $$status

build: install console ## compile every package to dist/ (node services/<name>/dist/main.js) and bundle the console
	@echo "==> tsc -b"
	@$(PNPM) exec tsc -b tsconfig.build.json

benchmark: build install-analytics ## every scenario beside its baseline: markdown table + bench-results.json (BENCH_SCALE=quick: under a minute)
	@echo "==> benchmark (BENCH_SCALE=$${BENCH_SCALE:-full}): scripts/bench/run.ts"
	@node --conditions=development --import tsx scripts/bench/run.ts

rotate-signing-key: install ## new checkpoint signing key for the all-in-one server in DATA_DIR (default ./data); the old one retires
	@echo "==> rotating the signing key in $${DATA_DIR:-data}"
	@DATA_DIR="$${DATA_DIR:-$(CURDIR)/data}" node --conditions=development --import tsx scripts/rotate-signing-key.ts

rotate-stream-key: install ## new key for destination secrets in DATA_DIR (default ./data); restart the server and it seals every secret again
	@echo "==> rotating the stream secret key in $${DATA_DIR:-data}"
	@DATA_DIR="$${DATA_DIR:-$(CURDIR)/data}" node --conditions=development --import tsx scripts/rotate-stream-key.ts

clean: ## remove build output and test reports; never the data folder (the audit log, its secret and signing key)
	rm -rf packages/*/dist services/*/dist .vitest-report.json
	@[ ! -d data ] || echo "kept ./data (the audit log, auth-secret, integrity-signing-key.pem): delete it yourself if you mean to: rm -rf data"

# --- Deployment (docs/deployment.md) ---------------------------------------------------------
NAMESPACE := logserver

define require
	@command -v $(1) >/dev/null 2>&1 || { echo "$(1) is not installed: $(2)" >&2; exit 1; }
endef

up: ## Minikube + ingress-nginx + Tilt: the dev overlay with live builds (Ctrl-C stops Tilt; make down removes it)
	$(call require,minikube,install it from https://minikube.sigs.k8s.io/docs/start/)
	$(call require,tilt,install it from https://docs.tilt.dev/install.html)
	@echo "==> starting Minikube (Calico CNI, so that the NetworkPolicies are enforced)"
	@minikube status >/dev/null 2>&1 || minikube start --cni=calico --cpus=2 --memory=4g
	@echo "==> enabling the ingress addon (ingress-nginx)"
	@minikube addons enable ingress
	@echo "==> tilt up (dev overlay, images built into Minikube's Docker); the API is at http://$$(minikube ip)/api/v1/logs"
	@eval $$(minikube docker-env) && tilt up

down: ## remove what make up deployed (tilt down); Minikube keeps running (minikube stop to stop it)
	$(call require,tilt,install it from https://docs.tilt.dev/install.html)
	@echo "==> tilt down"
	@tilt down

compose: ## docker compose: MongoDB, ElasticMQ, the four services and the nginx gateway on http://localhost:8080
	$(call require,docker,install Docker with the compose plugin)
	@echo "==> docker compose up --build (gateway on http://localhost:8080; Ctrl-C stops)"
	@docker compose -p logserver up --build

benchmark-cluster: install ## 10 000 POSTs at concurrency 1000 through the cluster's ingress, from a Job in the cluster (autocannon)
	$(call require,kubectl,install kubectl; make up starts the cluster)
	@echo "==> minting a writer token with the cluster's AUTH_SECRET"
	@secret=$$(kubectl -n $(NAMESPACE) get secret logserver-auth -o jsonpath='{.data.AUTH_SECRET}' | base64 -d); \
	  [ -n "$$secret" ] || { echo "no Secret logserver-auth in namespace $(NAMESPACE): run make up first" >&2; exit 1; }; \
	  token=$$(AUTH_SECRET=$$secret $(PNPM) -s mint-token --tenant bench --role writer --sub benchmark --ttl 1h) || exit 1; \
	  kubectl -n $(NAMESPACE) create secret generic benchmark-token --from-literal=TOKEN=$$token --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	@echo "==> running the benchmark Job (k8s/benchmark/job.yaml)"
	@kubectl -n $(NAMESPACE) delete job benchmark --ignore-not-found >/dev/null
	@kubectl apply -f k8s/benchmark/job.yaml >/dev/null
	@kubectl -n $(NAMESPACE) wait --for=condition=complete job/benchmark --timeout=15m \
	  || { kubectl -n $(NAMESPACE) logs job/benchmark; echo "the benchmark Job did not complete: see its logs above" >&2; exit 1; }
	@kubectl -n $(NAMESPACE) logs job/benchmark
