# The daily workflow. `make server` and `make test` are all a fresh machine needs.
#   make server   install when needed, build when sources changed, serve on SQLite at PORT (8000)
#   make test     install when needed, build, run every test
#   make coverage the same, with V8 coverage (text summary, coverage/index.html): about 30% slower
#   make all      the full workflow before a commit: lint, format check, clean, test
SHELL := /bin/bash
PORT ?= 8000

# Node.js 24 LTS (22 works): the system's when new enough, else a project-local copy in .cache/
# (scripts/node-prefix.sh). Every recipe, npm and node-gyp included, runs on it.
NODE_PREFIX := $(shell scripts/node-prefix.sh)
ifeq ($(NODE_PREFIX),)
$(error scripts/node-prefix.sh found no Node.js >= 22 and could not fetch one)
endif
export PATH := $(NODE_PREFIX)/bin:$(PATH)
ifneq ($(wildcard $(NODE_PREFIX)/include/node/node.h),)
export npm_config_nodedir := $(NODE_PREFIX)
endif
NODE_MAJOR := $(shell $(NODE_PREFIX)/bin/node -p 'process.versions.node.split(".")[0]')

# Native modules are built for one Node ABI: a change of Node major reinstalls.
NPM_STAMP := node_modules/.installed-node$(NODE_MAJOR)
BUILD_STAMP := dist/.build-stamp
BUILD_INPUTS := $(shell find src scripts -type f) package-lock.json tsconfig.json tsconfig.build.json

.PHONY: all server env activate lint format format-check clean build test coverage run load bench node

all: env lint format-check clean test

# Installs exactly what package-lock.json says, once (again when the lock file or Node changes).
$(NPM_STAMP): package.json package-lock.json
	rm -f node_modules/.installed-node*
	npm ci
	@touch $(NPM_STAMP)

env: $(NPM_STAMP)

node:
	@echo "$(NODE_PREFIX)/bin/node $$(node -v)"

activate:
	@echo 'Put the project Node.js and tools on PATH for this shell with:'
	@echo '  export PATH="$(NODE_PREFIX)/bin:$$PWD/node_modules/.bin:$$PATH"'

lint: env
	npx eslint .

format: env
	npx prettier --write .

format-check: env
	npx prettier --check .

clean:
	rm -rf dist coverage

$(BUILD_STAMP): $(NPM_STAMP) $(BUILD_INPUTS)
	npm run -s build
	@touch $(BUILD_STAMP)

build: $(BUILD_STAMP)

test: build
	npx vitest run

coverage: build
	npx vitest run --coverage

# Serves the last build (built again only when a source changed), with the shipped historical
# files as the import folder: the original service's body-less POST /upload/{table} calls work.
server: build
	IMPORT_DIR="$${IMPORT_DIR:-$(CURDIR)/data/historical}" npm start

# Frees the port, then runs the server in watch mode: TypeScript and the dashboard rebuild on
# change, and Node restarts when dist/ changes.
run: build
	-@fuser -k $(PORT)/tcp 2>/dev/null || true
	npx tsc -p tsconfig.build.json --watch --preserveWatchOutput & \
	node scripts/build-web.mjs --watch & \
	node --max-old-space-size=128 --max-semi-space-size=4 --no-allocation-site-pretenuring --watch-path=dist dist/server.js

load: build
	node dist/cli/load.js data/historical

bench: build
	node dist/cli/bench.js
