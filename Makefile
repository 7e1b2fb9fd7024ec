# Herald. `make run` starts everything locally; `make test` runs the whole suite.
SHELL := /bin/bash
GO    ?= go

.DEFAULT_GOAL := help

.PHONY: help run test fuzz mutants bench build image lint fmt

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: ## start PostgreSQL (or use DATABASE_URL), Herald and a demo merchant; prints URLs and keys
	@scripts/run

test: ## the whole suite of every module (unit, Postgres, headless Chromium) against a throwaway PostgreSQL
	@scripts/test

fuzz: ## run each fuzz target for FUZZTIME (default 60000x: 60,000 inputs)
	@scripts/fuzz

mutants: ## mutation testing: every mutation in scripts/mutants.txt must make its tests fail (about 10 minutes)
	@scripts/mutants

bench: ## the delivery benchmark (about 9 minutes); table on stdout, bench-results.json
	@scripts/bench

build: ## build bin/herald
	$(GO) build -o bin/herald ./cmd/herald

image: ## container image: static binary + CA certificates, FROM scratch (podman or docker; IMAGE=name:tag)
	@scripts/image

# The server and the merchant SDK's modules (go.work): ./... stops at a
# module's boundary, so vet and golangci-lint run in each module's folder.
MODULES = $(shell $(GO) list -m -f '{{.Dir}}')

lint: ## gofmt, go vet and golangci-lint, in every module
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	@set -e; for dir in $(MODULES); do \
		echo "lint: $${dir#$(CURDIR)/}"; \
		(cd "$$dir" && $(GO) vet ./... && $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...); \
	done

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')
