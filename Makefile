# Compadre. `make run` builds and starts the server; `make test` runs the
# whole suite: formatting, vet, staticcheck, the Go tests with the race
# detector, the web console in headless Chromium, the contract tests (schemathesis and the official Python SDK
# against a freshly started server), and the official Python SDK's own
# integration tests against a server started with default flags. Everything
# needed is installed into ./bin and ./.venv on first use. The Go tests of
# http/, the contract tests and the SDK's tests each fail when the operations
# they reach differ from tests/conformance/, which CONFORMANCE.md is made from.

GO                  ?= go
PYTHON              ?= python3
BIN                 := $(CURDIR)/bin
VENV                := $(CURDIR)/.venv
STATICCHECK_VERSION := v0.8.2
# apt-get needs root; as another user, sudo.
SUDO                := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test lint unit browser screenshots contract sdk sdk-only bench openapi conformance evidence clean

build:
	$(GO) build -o $(BIN)/compadre .

run: build
	$(BIN)/compadre serve

# The contract run is mostly one Python process (schemathesis) and the
# Go tests leave a core idle in their long tail, so it runs beside them,
# the browser and the SDK's tests; its output is printed when it ends.
# Both fail the suite on failure.
test: lint build $(VENV)/.installed
	@mkdir -p $(CURDIR)/test-output
	@echo "contract tests run in the background; their output follows the rest"
	@$(CONTRACT) > $(CURDIR)/test-output/contract.log 2>&1 & contract=$$!; \
	$(MAKE) --no-print-directory unit browser sdk-only; rest=$$?; \
	wait $$contract; status=$$?; \
	echo "---- contract tests ----"; cat $(CURDIR)/test-output/contract.log; \
	if [ $$status != 0 ]; then echo "contract tests failed"; fi; \
	[ $$rest = 0 ] && [ $$status = 0 ]

lint: $(BIN)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# The sandbox's compiled interpreter is cached on disk (see wasmrt's
# tests). Compiling it under the race detector takes many minutes, so one
# plain test run fills the cache first; the race run then loads it. The
# http package's race run takes minutes on two cores, more on a busy
# machine: past go test's default 10-minute limit it would be cut.
unit:
	$(GO) test -count=1 -run '^TestFreshState$$' ./wasmrt/
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v /tests/browser)

# The console driven in headless Chromium (Debian's chromium package,
# installed here when missing). Screenshots of every page are written under
# test-output/screenshots/<test>/.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the console's browser tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }
	@mkdir -p $(CURDIR)/test-output
	COMPADRE_BROWSER_REQUIRED=1 COMPADRE_SCREENSHOTS=$(CURDIR)/test-output/screenshots $(GO) test -count=1 ./tests/browser/

# The README's screenshots (docs/console/) redrawn from the browser tests
# that take them, for when the console has changed how those pages look.
SHOTS = TestToolPages/tool TestConversationsTranscriptLiveReplyAndGraph/conversation \
	TestConversationsTranscriptLiveReplyAndGraph/context-graph TestSimulationsRunAndMetric/simulation-run
screenshots:
	@rm -rf $(CURDIR)/test-output/readme-shots
	COMPADRE_BROWSER_REQUIRED=1 COMPADRE_SCREENSHOTS=$(CURDIR)/test-output/readme-shots $(GO) test -count=1 \
		-run '^(TestToolPages|TestConversationsTranscriptLiveReplyAndGraph|TestSimulationsRunAndMetric)$$' ./tests/browser/
	@for shot in $(SHOTS); do cp $(CURDIR)/test-output/readme-shots/$$shot.png docs/console/$${shot#*/}.png || exit 1; done
	@echo "docs/console/ redrawn: $(notdir $(addsuffix .png,$(SHOTS)))"

CONTRACT = $(VENV)/bin/python tests/contract/run.py --binary $(BIN)/compadre
SDK      = $(VENV)/bin/python tests/contract/sdk_integration.py --binary $(BIN)/compadre

contract: build $(VENV)/.installed
	$(CONTRACT)

# The SDK's integration tests, unchanged; which files run is SDK_SUITES in
# tests/contract/sdk_integration.py.
sdk: build $(VENV)/.installed
	$(SDK)

# sdk without rebuilding the binary, which the contract run beside it uses.
sdk-only:
	$(SDK)

# A restart of serve waits for the sandbox it started to finish loading
# before the next one, so it runs a fixed ten restarts per count.
# The served document is written as YAML parts and embedded as the JSON they
# merge into; run this after editing embed/openapi.yaml or embed/openapi/.
openapi:
	$(GO) test -count=1 -run '^TestServedDocumentIsCurrent$$' ./http/ -update-document

# CONFORMANCE.md, made from the routes table, the served document,
# DECISIONS.md and the committed evidence in tests/conformance/; a test
# fails when it is stale.
conformance:
	COMPADRE_EVIDENCE= $(GO) test -count=1 -run '^TestConformanceTableIsCurrent$$' ./http/ -update-conformance

# Runs everything that reaches operations, each rewriting its evidence
# (end-to-end.json; sdk-scripts.json, fuzzer.json; sdk-tests.json), then
# the table. What a failing run, or a failing phase of one, reached is not
# written.
evidence: build $(VENV)/.installed
	COMPADRE_EVIDENCE=update $(GO) test -count=1 ./http/
	COMPADRE_EVIDENCE=update $(VENV)/bin/python tests/contract/run.py --binary $(BIN)/compadre
	COMPADRE_EVIDENCE=update $(VENV)/bin/python tests/contract/sdk_integration.py --binary $(BIN)/compadre
	$(MAKE) conformance

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./http/ ./store/ ./wasmrt/ ./compadretest/ | tee bench.txt
	$(GO) test -run '^$$' -bench ServeRestart -benchtime 10x -count 6 . | tee -a bench.txt
	$(GO) test -run '^$$' -bench . -benchtime 10x -count 6 ./tests/browser/ | tee -a bench.txt

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(VENV)/.installed: tests/contract/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/contract/requirements.txt
	touch $@

clean:
	rm -rf $(BIN) $(VENV) bench.txt test-output
