"""End-to-end tests on the kind cluster `make e2e` sets up (two workspaces, linked).

Opt-in: every test here is marked `kind` (`pytest -m kind tests/e2e`), and skips with the
reason when kind, docker, a running Docker engine or the cluster itself is missing. `make e2e`
creates the cluster, builds and loads the image, installs the chart twice, links the
workspaces and applies the example before it runs these.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CLUSTER = os.environ.get("KIND_CLUSTER", "workspace-link")
CONTEXT = f"kind-{CLUSTER}"
NS_A = os.environ.get("NS_A", "workspace-a")
NS_B = os.environ.get("NS_B", "workspace-b")
RELEASE = os.environ.get("RELEASE", "workspace-link")
ORG_ADMIN_USER = os.environ.get("ORG_ADMIN_USER", "org-admin@example.com")
#: Seconds a condition may take on a cold kind cluster (image pulls, Job scheduling).
TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "300"))


def _tool(name: str) -> str | None:
    local = REPO / ".tools" / "bin" / name
    return str(local) if local.is_file() else shutil.which(name)


def _why_not_runnable() -> str | None:
    for tool in ("kind", "docker", "kubectl"):
        if _tool(tool) is None:
            return f"`{tool}` is not installed (the kind e2e needs kind, docker and kubectl)"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    if info.returncode != 0:
        return "no running Docker engine (`docker info` fails): kind cannot run here"
    clusters = subprocess.run(
        ["kind", "get", "clusters"], capture_output=True, text=True, timeout=30, check=False
    )
    if CLUSTER not in clusters.stdout.split():
        return f"no kind cluster {CLUSTER!r}: run `make e2e` (it creates, installs, links, then runs these)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = pathlib.Path(__file__).parent
    ours = [i for i in items if here in pathlib.Path(str(i.path)).parents]
    if not ours:
        return
    reason = _why_not_runnable()
    for item in ours:
        item.add_marker(pytest.mark.kind)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


class Cluster:
    """kubectl against the kind cluster, and waiting on its state."""

    context = CONTEXT
    ns_a = NS_A
    ns_b = NS_B
    release = RELEASE
    org_admin_user = ORG_ADMIN_USER
    repo = REPO

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        exe = _tool("kubectl")
        assert exe is not None
        proc = subprocess.run(
            [exe, "--context", CONTEXT, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def wait_until(self, what: str, probe: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        """Re-read the state until ``probe`` returns something truthy; fail naming ``what``.

        kubectl offers no event stream to block on for these conditions, so this polls; the
        interval only bounds the load on the API server, it never decides the outcome.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            time.sleep(1.0)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return Cluster()
