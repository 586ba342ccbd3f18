# Strongroom build, test and demo. Two commands set up and prove everything on a fresh machine:
#   make demo   build, synthesize, and run the workflows end to end in the local sandbox
#   make test   every test (Go, CDK assertions, cdk-nag, ASL conformance, MariaDB, AWS CLI)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
LAMBDAS   := $(notdir $(wildcard lambdas/*))
BUILD_DIR := build
# jsii warns on every run that Node 20 is end of life; the CDK app works on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false
# Lambda bootstraps: provided.al2023 on arm64, static, no RPC mode, stripped and reproducible.
LAMBDA_GOFLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w -buildid='
NODE_BIN  := node_modules/.bin
CDK       := $(NODE_BIN)/cdk

.PHONY: help
help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# npm ci runs when node_modules is missing or older than the lock file.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@# A go.mod makes node_modules its own module, so ./... does not walk the CDK CLI's Go templates.
	@printf 'module strongroom.invalid/node_modules\n' > node_modules/go.mod
	@touch $@

.PHONY: npm
npm: node_modules/.package-lock.json

# Debian packages the tests and the demo use: a real MariaDB server (rotation), Debian's AWS CLI v2
# (an independent client of the sandbox) and openssl (checks the certificates we issue).
DEBIAN_PKGS := mariadb-server mariadb-client awscli openssl
.PHONY: deps
deps: npm ## install what tests and the demo need (npm packages; Debian packages when missing, as root)
	@missing=""; for p in $(DEBIAN_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or sudo) to apt-get install$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

.PHONY: build
build: ## build every lambdas/* into build/<name>/bootstrap (arm64, provided.al2023)
	@mkdir -p $(BUILD_DIR)
	@for fn in $(LAMBDAS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_GOFLAGS) -o $(BUILD_DIR)/$$fn/bootstrap ./lambdas/$$fn || exit 1; \
	  echo "built $(BUILD_DIR)/$$fn/bootstrap"; \
	done

.PHONY: synth
synth: build npm ## synthesize every stack into cdk.out (offline, no credentials); cdk-nag fails it on any finding
	$(CDK) synth --strict --quiet --no-notices --no-version-reporting --no-lookups
	@$(GO) run ./cmd/strongroom nag-report cdk.out

.PHONY: test
test: deps ## run every test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./pkg/trailalert

.PHONY: lint
lint: ## gofmt, go vet, staticcheck (pinned in go.mod as a tool)
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: bench
bench: ## benchmarks, with ratios measured side by side in one run
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

.PHONY: demo
demo: build synth deps ## run the demo in the local sandbox (alerts, rotation, cluster + key store; DEMO_FLAGS="-only rotation -v")
	$(GO) run ./cmd/strongroom demo $(DEMO_FLAGS)

# The sandbox prints the AWS_ENDPOINT_URL and dummy credentials to export; SCALE=60 runs its clock 60x.
SANDBOX_ADDR ?= 127.0.0.1:4580
SCALE        ?= 1
.PHONY: sandbox
sandbox: ## serve the local AWS sandbox until interrupted (SANDBOX_ADDR, SCALE)
	$(GO) run ./cmd/strongroom sandbox -addr $(SANDBOX_ADDR) -scale $(SCALE)

# Stacks `make deploy` deploys. The cluster stack starts HSM billing, so it is deployed only when named:
#   make deploy STACKS="StrongroomCluster StrongroomKeyStore"
STACKS ?= StrongroomAlerts StrongroomDatabase
RDS_CA_BUNDLE := $(BUILD_DIR)/rotate/rds-global-bundle.pem
.PHONY: deploy
deploy: build npm ## deploy STACKS to the AWS account and region of your credentials (see README)
	@if echo "$(STACKS)" | grep -q StrongroomDatabase && [ ! -s $(RDS_CA_BUNDLE) ]; then \
	  echo "fetching the RDS CA bundle into $(RDS_CA_BUNDLE) (the rotation Lambda verifies the database with it)"; \
	  curl -fsSLo $(RDS_CA_BUNDLE) https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem; \
	fi
	$(CDK) deploy $(STACKS) --require-approval broadening

.PHONY: clean
clean:
	rm -rf $(BUILD_DIR) cdk.out
