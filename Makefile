# logserver: the commands people run. Each prints what it does and fails with the fix in the message.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PNPM_VERSION := 10.34.9
PNPM := $(shell command -v pnpm >/dev/null 2>&1 && echo pnpm || echo "npx --yes pnpm@$(PNPM_VERSION)")

.PHONY: help check-node install start test lint typecheck build clean benchmark

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

check-node:
	@node -e 'const [major]=process.versions.node.split(".").map(Number); if (major < 20) { console.error("Node.js " + process.versions.node + " is too old: install Node.js 20 or later (https://nodejs.org)"); process.exit(1) }' \
	  || { echo "Node.js is missing or too old: install Node.js 20 or later, then run make again." >&2; exit 1; }

node_modules/.modules.yaml: package.json pnpm-lock.yaml $(wildcard packages/*/package.json services/*/package.json)
	@echo "==> installing dependencies with pnpm $(PNPM_VERSION)"
	@$(PNPM) install --frozen-lockfile || { echo "pnpm install failed: check network access to the npm registry, then run make again." >&2; exit 1; }
	@touch $@

install: check-node node_modules/.modules.yaml ## install what is missing

start: install ## run the all-in-one server on http://localhost:8080 (SQLite in ./data)
	@echo "==> starting the all-in-one server (Ctrl-C to stop)"
	@cd services/all-in-one && DATA_DIR="$${DATA_DIR:-$(CURDIR)/data}" $(PNPM) start

lint: install ## biome lint + format check
	@echo "==> biome check"
	@$(PNPM) exec biome check .

typecheck: install ## tsc over the whole workspace
	@echo "==> tsc --noEmit"
	@$(PNPM) exec tsc -p tsconfig.json

test: install lint typecheck ## lint, typecheck and every test; prints 'N passed, N failed'
	@echo "==> vitest run"
	@status=0; $(PNPM) exec vitest run || status=$$?; node scripts/test-summary.mjs .vitest-report.json; exit $$status

build: install ## compile every package to dist/ (node services/<name>/dist/main.js)
	@echo "==> tsc -b"
	@$(PNPM) exec tsc -b tsconfig.build.json

benchmark: build ## every scenario beside its baseline: markdown table + bench-results.json (BENCH_SCALE=quick: under a minute)
	@echo "==> benchmark (BENCH_SCALE=$${BENCH_SCALE:-full}): scripts/bench/run.ts"
	@node --conditions=development --import tsx scripts/bench/run.ts

clean: ## remove build output and local data
	rm -rf packages/*/dist services/*/dist data .vitest-report.json
