# flowguard development tasks. `make help` lists them; every tool is built from the Go module
# proxy at the version its tools module (hack/tools/*) pins, never downloaded as a binary.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# Cached, versioned binaries live under CACHE_DIR; .ci/run points it outside the clone.
CACHE_DIR ?= $(ROOT)/bin
K8S_VERSION := 1.37.2
GOLDMANE_VERSION := v3.31.0
ENVTEST_ASSETS ?= $(CACHE_DIR)/k8s/$(K8S_VERSION)
GOLDMANE_ASSETS ?= $(CACHE_DIR)/goldmane/$(GOLDMANE_VERSION)

VERSION ?= $(shell git -C $(ROOT) describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git -C $(ROOT) rev-parse HEAD 2>/dev/null)
IMAGE_TOOL = go -C $(ROOT)/hack/tools/image run .
GO_TEST_FLAGS ?=
BENCH ?= .
BENCHTIME ?= 100ms
PKGS ?= ./...
# make bench-admission: cluster size, Gatekeeper beside flowguard, the overload step's length
# (three times saturation, then recovery; 0 skips it), and where its tools are cached.
SIZE ?= shop
GATEKEEPER ?= 0
OVERLOAD ?= 0
BENCH_TOOLS_DIR ?= $(CACHE_DIR)/bench
BENCH_ADMISSION_FLAGS ?=

GOLANGCI_LINT = go -C $(ROOT)/hack/tools/golangci-lint tool -n golangci-lint

# Packages whose tests need the control plane carry the e2e build tag.
E2E_PKGS = $(shell grep -rlE --include='*_test.go' --exclude-dir=bin --exclude-dir=hack '^//go:build .*\be2e\b' $(ROOT) \
	| xargs -r -n1 dirname | sort -u | sed 's|^$(ROOT)|.|')

##@ General

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build bin/flowguard
	go build -ldflags "-X github.com/flowguard/flowguard/cmd/flowguard/app.version=$(VERSION) -X github.com/flowguard/flowguard/cmd/flowguard/app.commit=$(COMMIT)" -o $(ROOT)/bin/flowguard ./cmd/flowguard

.PHONY: image
image: ## Build the multi-arch (linux/amd64, linux/arm64) OCI image layout in bin/image, no container engine
	$(IMAGE_TOOL) build -repo $(ROOT) -out $(ROOT)/bin/image -version $(VERSION)

.PHONY: image-push
image-push: ## Push bin/image (index and every platform) to IMAGE=host/repository:tag
	@if [[ -z "$(IMAGE)" ]]; then echo "image-push: set IMAGE=host/repository:tag" >&2; exit 1; fi
	$(IMAGE_TOOL) push -layout $(ROOT)/bin/image -image $(IMAGE)

.PHONY: manifests
manifests: ## Generate CRDs, RBAC and deepcopy code from the Go types; Calico's and cert-manager's CRDs
	hack/manifests.sh

.PHONY: docs
docs: ## Write docs/cli.md, the command-line reference, from the command tree
	go run ./hack/clidoc > docs/cli.md

.PHONY: example
example: build ## The main job: audit the example shop offline (no cluster needed); bin/shop.html is the report as a page
	$(ROOT)/bin/flowguard audit -f $(ROOT)/examples/shop --flows $(ROOT)/examples/shop/flows.jsonl
	$(ROOT)/bin/flowguard audit -f $(ROOT)/examples/shop --flows $(ROOT)/examples/shop/flows.jsonl -o html > $(ROOT)/bin/shop.html
	@echo "The same audit as a page: $(ROOT)/bin/shop.html"

.PHONY: demo
demo: build envtest ## See flowguard work: a local control plane, the shop, the webhook refusing and warning, an audit (make demo-down stops it)
	@echo "==> Building the demo launcher"
	go build -o $(ROOT)/bin/flowguard-demo ./hack/demo
	$(ROOT)/bin/flowguard-demo start --dir $(ROOT)/bin/demo --assets $(ENVTEST_ASSETS) --flowguard $(ROOT)/bin/flowguard

.PHONY: demo-down
demo-down: ## Stop the demo's flowguard, kube-apiserver and etcd
	@if [[ -x $(ROOT)/bin/flowguard-demo ]]; then $(ROOT)/bin/flowguard-demo down --dir $(ROOT)/bin/demo; \
		else echo "No demo has been started."; fi

##@ Test (none of these writes to the tree)

.PHONY: test
test: test-unit test-rego test-e2e test-verify test-image ## Run every test: unit, Rego, end-to-end, the proof that verify catches drift, the image

.PHONY: test-unit
test-unit: ## Run the unit tests (no control plane needed)
	go test $(GO_TEST_FLAGS) $(PKGS)

.PHONY: test-rego
test-rego: ## Run the Rego rule library's tests with `flowguard rego test`
	go run ./cmd/flowguard rego test rego/lib

.PHONY: test-e2e
test-e2e: envtest goldmane ## Run the end-to-end tests against a real kube-apiserver, etcd and kubectl
	@if [[ -z "$(E2E_PKGS)" ]]; then echo "test-e2e: no e2e tests"; exit 1; fi
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) GOLDMANE_ASSETS=$(GOLDMANE_ASSETS) \
		go test -tags e2e -timeout 40m $(GO_TEST_FLAGS) $(E2E_PKGS)

.PHONY: test-image
test-image: ## Build the image twice (same digest), run its binary, push it to a registry started in the test
	go -C hack/tools/image test -timeout 30m $(GO_TEST_FLAGS) ./...

.PHONY: test-verify
test-verify: ## Prove that make verify fails when a CRD type changes without make manifests
	hack/test-verify.sh

.PHONY: screenshots
screenshots: ## Regenerate docs/images/report-shop.png, the README's picture of the html report, in headless Chromium
	rm -rf $(ROOT)/bin/screenshots && mkdir -p $(ROOT)/bin/screenshots
	go test ./test/browser/ -run 'TestReportInBrowser' -count=1 -artifacts -outputdir $(ROOT)/bin/screenshots
	mkdir -p $(ROOT)/docs/images
	cp "$$(find $(ROOT)/bin/screenshots -name shop-traffic.png)" $(ROOT)/docs/images/report-shop.png
	@echo "Every screenshot: $$(find $(ROOT)/bin/screenshots -name '*.png' | sort | tr '\n' ' ')"

.PHONY: bench
bench: ## Run the benchmarks once, briefly (BENCH, BENCHTIME, PKGS to narrow)
	go test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem $(PKGS)

.PHONY: bench-admission
bench-admission: build envtest ## Load flowguard serve's webhook from outside with vegeta (SIZE=shop|10k, GATEKEEPER=1, OVERLOAD=60s, BENCH_ADMISSION_FLAGS=-duration 10s)
	BENCH_TOOLS_DIR=$(BENCH_TOOLS_DIR) GATEKEEPER=$(GATEKEEPER) hack/bench-tools.sh
	go build -o $(ROOT)/bin/bench-admission ./hack/bench/admission
	$(ROOT)/bin/bench-admission -assets $(ENVTEST_ASSETS) -flowguard $(ROOT)/bin/flowguard \
		-vegeta $(BENCH_TOOLS_DIR)/vegeta/v12.13.0/vegeta -size $(SIZE) -overload $(OVERLOAD) \
		$(if $(filter 1,$(GATEKEEPER)),-gatekeeper $(BENCH_TOOLS_DIR)/gatekeeper/v3.23.1/gatekeeper) $(BENCH_ADMISSION_FLAGS)

##@ Checks

.PHONY: lint
lint: ## Run go vet and golangci-lint (v2, built from the module proxy)
	go vet ./...
	go vet -tags e2e $(E2E_PKGS)
	go -C hack/tools/controller-gen vet ./...
	go -C hack/tools/image vet ./...
	lint=$$($(GOLANGCI_LINT)); \
		$$lint run ./...; \
		(cd hack/tools/controller-gen && $$lint run --config $(ROOT)/.golangci.yml ./...); \
		cd hack/tools/image && $$lint run --config $(ROOT)/.golangci.yml ./...

.PHONY: verify
verify: ## Fail if generated files, go.mod/go.sum or formatting are stale (regenerates in a scratch copy)
	hack/verify.sh
	@for dir in . hack/tools/*/; do \
		if ! out=$$(go -C $$dir mod tidy -diff 2>&1); then \
			echo "$$out"; echo "verify: go.mod in $$dir is not tidy; run go mod tidy there" >&2; exit 1; \
		fi; \
	done
	@files=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n $$files ]]; then \
		echo "verify: not gofmt-ed: $$files" >&2; exit 1; fi
	@echo "verify: go.mod files tidy, Go files formatted"

##@ Test dependencies (cached by version; a second run takes seconds)

.PHONY: envtest
envtest: ## Build etcd, kube-apiserver and kubectl into ENVTEST_ASSETS
	ENVTEST_DIR=$(ENVTEST_ASSETS) hack/envtest.sh

.PHONY: goldmane
goldmane: ## Build Calico's Goldmane server and flow generator into GOLDMANE_ASSETS
	GOLDMANE_DIR=$(GOLDMANE_ASSETS) hack/goldmane.sh
