# Strongroom build, test and demo. Two commands set up and prove everything on a fresh machine:
#   make demo   build, synthesize, and run the workflows end to end in the local sandbox
#   make test   every test (Go, CDK assertions, cdk-nag, ASL conformance, MariaDB, AWS CLI)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
LAMBDAS   := $(patsubst lambdas/%/main.go,%,$(wildcard lambdas/*/main.go))
BUILD_DIR := build
# jsii warns on every run that Node 20 is end of life; the CDK app works on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false
# The Go toolchain every build, test and Lambda bundle uses: go.mod's toolchain line, which the go command
# fetches from the Go module proxy. It carries the standard library's security fixes that govulncheck
# finds reachable in 1.26.8 (crypto/x509, crypto/tls, net/http, mime/multipart).
export GOTOOLCHAIN := go1.27.3
# Lambda bootstraps: provided.al2023 on arm64, static, no RPC mode, stripped and reproducible; the
# same flags as infra/golambda.BuildFlags, so a construct's bundle equals build/<name>/bootstrap.
LAMBDA_GOFLAGS := -trimpath -buildvcs=false -tags lambda.norpc -ldflags='-s -w -buildid='
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
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or sudo) to apt-get install$$missing" >&2; exit 1; fi; \
	  printf 'installing Debian packages:%s (apt-get; its output is shown only if it fails) ' "$$missing"; \
	  log=$$(mktemp); start=$$SECONDS; \
	  ( while sleep 3 >/dev/null 2>&1; do printf .; done ) & dots=$$!; \
	  if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } >$$log 2>&1; \
	  then kill $$dots; printf ' done (%ss)\n' $$((SECONDS - start)); rm -f $$log; \
	  else rc=$$?; kill $$dots; printf ' FAILED\n' >&2; cat $$log >&2; rm -f $$log; exit $$rc; fi; \
	fi

.PHONY: build
build: ## build every lambdas/* into build/<name>/bootstrap (arm64, provided.al2023)
	@mkdir -p $(BUILD_DIR)
	@# One go build for all of them: it loads the shared packages once and links two at a time (a go build
	@# per function spent about as much CPU in the go command as in the linker). A dot per bootstrap
	@# placed; a failed build prints the go command's errors.
	@printf 'building %d Lambda bootstraps (linux/arm64) into $(BUILD_DIR)/<name>/bootstrap ' $(words $(LAMBDAS)); start=$$SECONDS; \
	tmp=$$(mktemp -d); \
	if ! out=$$(GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_GOFLAGS) -o $$tmp/ $(addprefix ./lambdas/,$(LAMBDAS)) 2>&1); then \
	  rm -rf $$tmp; printf ' FAILED\n%s\n' "$$out" >&2; exit 1; \
	fi; \
	for fn in $(LAMBDAS); do mkdir -p $(BUILD_DIR)/$$fn && mv -f $$tmp/$$fn $(BUILD_DIR)/$$fn/bootstrap; printf .; done; \
	rm -rf $$tmp; \
	printf ' done (%ss)\n' $$((SECONDS - start))

# The region `strongroom cost` prices environment-agnostic stacks in (pinned stacks name their own).
COST_REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)

.PHONY: synth
synth: build npm ## synthesize every stack into cdk.out (offline, no credentials); cdk-nag fails it on any finding
	@# cdk synth's own output (jsii and CDK notices, annotations) is shown only when it fails.
	@printf 'synthesizing the CDK app into cdk.out (cdk synth) '; \
	log=$$(mktemp); start=$$SECONDS; \
	( while sleep 3 >/dev/null 2>&1; do printf .; done ) & dots=$$!; \
	if $(CDK) synth --strict --quiet --no-notices --no-version-reporting --no-lookups >$$log 2>&1; \
	then kill $$dots; printf ' done (%ss)\n' $$((SECONDS - start)); rm -f $$log; \
	else rc=$$?; kill $$dots; printf ' FAILED\n' >&2; cat $$log >&2; rm -f $$log; exit $$rc; fi
	@printf 'checking the cdk-nag reports in cdk.out (go run ./cmd/strongroom nag-report) '; \
	log=$$(mktemp); \
	( while sleep 3 >/dev/null 2>&1; do printf .; done ) & dots=$$!; \
	if $(GO) run ./cmd/strongroom nag-report cdk.out >$$log 2>&1; \
	then kill $$dots; printf '\n'; cat $$log; rm -f $$log; \
	else rc=$$?; kill $$dots; printf ' FAILED\n' >&2; cat $$log >&2; rm -f $$log; exit $$rc; fi
	@# What the stacks cost by the hour (pkg/cost); environment-agnostic stacks are priced in AWS_REGION.
	@$(GO) run ./cmd/strongroom cost -region "$(COST_REGION)" cdk.out

# The end-to-end kits wait on the sandbox clock most of the time (a lifecycle uses a fraction of a
# core): go test runs packages in the order given, so they start first, and TEST_PARALLEL packages
# at once (go test's default is GOMAXPROCS, 2 here) let the CPU-bound packages run beside them
# instead of after them. More than 3 on 2 cores starved the kits' functions of CPU until their
# states timed out (a function's wall time counts the sandbox clock's scale times).
SLOW_TESTS    := ./pkg/sandbox/testkit/clustertest ./pkg/sandbox/testkit/keystoretest ./cmd/strongroom
TEST_PARALLEL ?= 3

# The host executables of lambdas/* the test processes copy (lambdaruntime.EnvPrebuilt).
HOST_LAMBDAS := $(CURDIR)/$(BUILD_DIR)/host-lambdas
# The IAM decisions of the workflow test kits (pkg/sandbox/testkit/stacktest DecisionsDirVar).
TEST_DECISIONS := $(CURDIR)/$(BUILD_DIR)/iam-decisions-tests

.PHONY: test
test: lint deps ## run every test, after make lint
	@# The kits, the demo and the functions' own tests build lambdas/* for the host (lambdaruntime.BuildHost)
	@# as they start, each test process linking the same executables: link each once here, with
	@# lambdaruntime.BuildFlags, and each test process copies it (lambdaruntime.EnvPrebuilt).
	rm -rf $(HOST_LAMBDAS) && mkdir -p $(HOST_LAMBDAS)
	CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w -buildid=' -o $(HOST_LAMBDAS)/ ./lambdas/...
	printf '%s\n' "$(CURDIR)/lambdas" > $(HOST_LAMBDAS)/source-dir
	@# The workflow test kits write every IAM decision they made here, for make iam-report.
	rm -rf $(TEST_DECISIONS)
	STRONGROOM_IAM_DECISIONS_DIR=$(TEST_DECISIONS) STRONGROOM_PREBUILT_HOST_LAMBDAS=$(HOST_LAMBDAS) $(GO) test -count=1 -timeout 20m -p $(TEST_PARALLEL) $(SLOW_TESTS) ./...
	@$(call fuzz-each,$(TEST_FUZZTIME))

# Fuzz targets, as <package dir>/<target>: go test -fuzz takes one package and one target a run.
# make test fuzzes each for TEST_FUZZTIME, make fuzz for FUZZTIME. A new input that widens coverage
# is minimized for at most FUZZMINIMIZE executions: go's default (60s a minimization) spent most of
# a short run minimizing the large seed inputs at 0 execs/sec, and a short time limit makes the
# coordinator kill and restart a worker whose minimization overruns it; a count has neither cost.
FUZZ_TARGETS  := pkg/trailalert/FuzzParse pkg/rotationschedule/FuzzParse pkg/hsmcluster/FuzzParse \
                 pkg/keystore/FuzzParse pkg/customresource/FuzzEntry pkg/customresource/FuzzAnswer
TEST_FUZZTIME ?= 4s
FUZZTIME      ?= 60s
FUZZMINIMIZE  ?= 500x
define fuzz-each
for t in $(FUZZ_TARGETS); do \
  set -- -run '^$$' -fuzz "^$$(basename $$t)\$$" -fuzztime $(1) -fuzzminimizetime $(FUZZMINIMIZE) ./$$(dirname $$t); \
  echo "$(GO) test $$*"; $(GO) test "$$@" || exit 1; \
done
endef

.PHONY: fuzz
fuzz: ## fuzz every target for FUZZTIME each (default 60s; make test fuzzes each for TEST_FUZZTIME, 4s)
	@$(call fuzz-each,$(FUZZTIME))

# govulncheck reads the Go vulnerability database offline: the module golang.org/x/vulndb, which the
# Go module proxy serves like any module, holds every advisory as an OSV file in data/osv, and
# govulncheck reads such a directory with -db file://DIR. VULNDB_VERSION pins the advisories; take
# newer ones by writing here what `go list -m -f '{{.Version}}' golang.org/x/vulndb@latest` prints.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018

.PHONY: lint
lint: ## gofmt, go vet, staticcheck and govulncheck (both pinned in go.mod as tools)
	@files=$$(git ls-files --cached --others --exclude-standard -- '*.go' | while read -r f; do if [ -f "$$f" ]; then echo "$$f"; fi; done); \
	out=$$(gofmt -l $$files </dev/null); if [ -n "$$out" ]; then echo "gofmt needed (gofmt -w FILE):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@if ! mod=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION)); then \
	  echo "$$mod" >&2; echo "govulncheck cannot run: golang.org/x/vulndb@$(VULNDB_VERSION), its database, did not download" >&2; exit 1; \
	fi; \
	osv=$$(echo "$$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p')/data/osv; \
	if [ ! -f "$$osv/GO-2020-0001.json" ]; then echo "govulncheck cannot run: $$osv holds no OSV files" >&2; exit 1; fi; \
	echo "$(GO) tool govulncheck -db file://$$osv ./..."; \
	$(GO) tool govulncheck -db "file://$$osv" ./...

.PHONY: bench
bench: synth ## benchmarks, ratios measured side by side in one run (cold starts of every deployed function vs a hello-world)
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

.PHONY: demo
demo: build synth deps ## run the demo in the local sandbox (alerts, rotation, cluster + key store; DEMO_FLAGS="-only rotation -v")
	@$(GO) run ./cmd/strongroom demo -iam-decisions $(BUILD_DIR)/iam-decisions.jsonl $(DEMO_FLAGS)

.PHONY: iam-report
iam-report: ## each role's granted actions against the IAM decisions of the last make demo (and make test's kits)
	@$(GO) run ./cmd/strongroom iam-report -decisions $(BUILD_DIR)/iam-decisions.jsonl $(if $(wildcard $(TEST_DECISIONS)/*.jsonl),-test-decisions $(TEST_DECISIONS))

# The mutation matrix (issue 13): every grant of cdk.out removed alone from a copy, the demo section that
# deploys it run, each outcome in build/iam-mutations.txt (rewritten after each). Hours of wall time: a run
# per grant that some decision of the baseline used; IAM_MUTATIONS_STACKS="StrongroomKeyStore" limits it to some
# stacks' grants. make test runs a representative subset.
.PHONY: iam-mutations
iam-mutations: build synth deps ## remove each grant from a copy of cdk.out and run its workflow (build/iam-mutations.txt)
	IAM_MUTATIONS=all $(GO) test -count=1 -timeout 0 -run '^TestIAMMutations$$' -v ./cmd/strongroom

# The sandbox prints the AWS_ENDPOINT_URL and dummy credentials to export; SCALE=60 runs its clock 60x.
SANDBOX_ADDR ?= 127.0.0.1:4580
SCALE        ?= 1
.PHONY: sandbox
sandbox: ## serve the local AWS sandbox until interrupted (SANDBOX_ADDR, SCALE)
	$(GO) run ./cmd/strongroom sandbox -addr $(SANDBOX_ADDR) -scale $(SCALE)

# Stacks `make deploy` deploys. The cluster stack starts HSM billing, so it is deployed only when named:
#   make deploy STACKS="StrongroomCluster StrongroomKeyStore"
STACKS ?= StrongroomAlerts StrongroomDatabase
# The functions that log in to the database (rotate, dbuser) verify it with the RDS CA bundle in their asset.
RDS_CA_BUNDLE := $(BUILD_DIR)/rotate/rds-global-bundle.pem
.PHONY: deploy
deploy: build npm ## deploy STACKS to the AWS account and region of your credentials (see README)
	@if echo "$(STACKS)" | grep -q StrongroomDatabase; then \
	  if [ ! -s $(RDS_CA_BUNDLE) ]; then \
	    echo "fetching the RDS CA bundle into $(RDS_CA_BUNDLE) (the rotation and user Lambdas verify the database with it)"; \
	    curl -fsSLo $(RDS_CA_BUNDLE) https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem; \
	  fi; \
	  cp $(RDS_CA_BUNDLE) $(BUILD_DIR)/dbuser/rds-global-bundle.pem; \
	fi
	@# Synthesize once, show what the stacks will cost by the hour, then deploy exactly that assembly.
	$(CDK) synth --quiet --no-notices $(STACKS) >/dev/null
	@$(GO) run ./cmd/strongroom cost -region "$(COST_REGION)" -stacks "$(STACKS)" cdk.out
	$(CDK) deploy --app cdk.out $(STACKS) --require-approval broadening

.PHONY: clean
clean:
	rm -rf $(BUILD_DIR) cdk.out
