# Sportello — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BUF   := $(GO) tool -modfile=tools/buf/go.mod buf
DATA  ?= ./data
LISTEN ?= 127.0.0.1:8080

.PHONY: run build assets test test-short test-postgres bench generate verify lint fmt clean

## run: start everything on embedded defaults (SQLite, embedded NATS, demo data)
run: build
	./bin/sportello serve --listen $(LISTEN) --data-dir $(DATA)

build: assets
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sportello ./cmd/sportello

## assets: the pinned npm packages (web/package-lock.json) installed with
## npm ci and their browser files copied into web/static, which the binary
## embeds (bootstrap-italia, htmx; playwright-core and axe-core for the
## browser tests).
assets: web/static/versions.json

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/static/versions.json: web/node_modules/.package-lock.json tools/web-assets.sh
	tools/web-assets.sh

## test: every test, with the race detector. PostgreSQL runs too when
## SPORTELLO_TEST_POSTGRES_DSN is set (.ci/run sets it).
test: assets
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short -count=1 ./...

## bench: throughput and latency of the web-form path; writes docs/benchmarks.md
bench: build
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sportello-bench ./cmd/sportello-bench
	./bin/sportello-bench -server ./bin/sportello -out docs/benchmarks.md $(BENCHFLAGS)

## generate: regenerate api/ from proto/ (offline, tools pinned in tools/)
generate:
	find api -name '*.pb.go' -delete -o -name '*.pb.gw.go' -delete -o -name '*.swagger.json' -delete
	$(BUF) generate

## verify: generated code in sync, formatted, vetted, linted
verify: generate lint
	@git diff --exit-code -- api || { echo "generated code is out of date: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api | grep '^??')" || { echo "generated files not added to git:"; git status --porcelain -- api | grep '^??'; exit 1; }

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^api/')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	$(BUF) lint
	$(BUF) format --diff --exit-code proto

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '^api/')
	$(BUF) format -w proto

clean:
	rm -rf bin web/node_modules web/static/bootstrap-italia web/static/htmx web/static/versions.json
