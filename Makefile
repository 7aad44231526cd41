# AssistLoop: `make run` starts the service, `make test` runs every test.
# Both use $DATABASE_URL / $TEST_DATABASE_URL when set, otherwise a
# project-local PostgreSQL cluster under .data/ (created on first use).

GO ?= go
PKGS ?= ./...

.PHONY: run test build generate lint bench db-stop clean

## run: start the service on http://127.0.0.1:8080 (migrates; loads the demo on an empty database)
run:
	$(GO) run ./cmd/assistloop serve

## test: run every test against real PostgreSQL, with the race detector
test:
	$(GO) test -race -count=1 $(PKGS)

## build: build bin/assistloop
build:
	$(GO) build -o bin/assistloop ./cmd/assistloop

## generate: regenerate the GraphQL code from graph/*.graphqls
generate:
	$(GO) tool gqlgen generate

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

## bench: run the benchmarks (see README, "Performance")
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## db-stop: stop the project-local PostgreSQL cluster
db-stop:
	$(GO) run ./cmd/assistloop db stop

clean:
	rm -rf bin
