# The daily workflow. `make server` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
PORT ?= 8000
NPM_STAMP := node_modules/.package-lock.json

.PHONY: all server env activate lint format format-check clean build test run load bench

all: env lint format-check clean test

# Installs exactly what package-lock.json says, once (again when the lock file changes).
$(NPM_STAMP): package.json package-lock.json
	npm ci
	@touch $(NPM_STAMP)

env: $(NPM_STAMP)

activate:
	@echo 'Put the project tools on PATH for this shell with:'
	@echo '  export PATH="$$PWD/node_modules/.bin:$$PATH"'

lint: env
	npx eslint .

format: env
	npx prettier --write .

format-check: env
	npx prettier --check .

clean:
	rm -rf dist coverage

build: env
	npm run build

test: env build
	npx vitest run --coverage

# `make server`: everything `all` checks, then the server on SQLite at PORT (8000).
server: all build
	npm start

# Frees the port, then runs the server in watch mode: TypeScript and the dashboard rebuild on
# change, and Node restarts when dist/ changes.
run: build
	-@fuser -k $(PORT)/tcp 2>/dev/null || true
	npx tsc -p tsconfig.build.json --watch --preserveWatchOutput & \
	node scripts/build-web.mjs --watch & \
	node --max-old-space-size=128 --max-semi-space-size=4 --watch-path=dist dist/server.js

load: build
	node dist/cli/load.js data/historical

bench: build
	node dist/cli/bench.js
