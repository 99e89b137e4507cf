"""Render the Helm chart with the real `helm` binary and hand the tests plain objects.

helm comes from `.ci/tools.sh` (unpacked from a PyPI package into .tools/bin) or from PATH;
without it these tests skip with that reason. Renders are cached: the same values give the
same manifests, and helm takes a noticeable fraction of a second per call.
"""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "workspace-link"
ALL_ON = pathlib.Path(__file__).with_name("values-all-on.yaml")
NAMESPACE = "workspace-a"
RELEASE = "workspace-link"

Obj = dict[str, Any]


def _find_helm() -> str | None:
    local = REPO / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("helm")


HELM = _find_helm()


class RenderError(Exception):
    """helm refused to render (a `fail` in the chart, or the values schema)."""


@functools.lru_cache(maxsize=64)
def _render(
    release: str, namespace: str, values_files: tuple[str, ...], set_values: tuple[str, ...]
) -> tuple[Obj, ...]:
    assert HELM is not None
    cmd = [HELM, "template", release, str(CHART), "--namespace", namespace, "--include-crds"]
    for f in values_files:
        cmd += ["--values", f]
    for s in set_values:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


class Rendered(list[Obj]):
    """The rendered objects, with lookups by kind and name."""

    def find(self, kind: str, name: str | None = None) -> list[Obj]:
        return [o for o in self if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]

    def one(self, kind: str, name: str | None = None) -> Obj:
        found = self.find(kind, name)
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]


def render(
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    values_files: Iterable[pathlib.Path | str] = (),
    set_values: Iterable[str] = (),
    crds: bool = False,
) -> Rendered:
    """The chart's objects for these values; CRDs only when asked (tests look at the rest)."""
    objs = _render(release, namespace, tuple(str(f) for f in values_files), tuple(set_values))
    return Rendered(o for o in objs if crds or o["kind"] != "CustomResourceDefinition")


@pytest.fixture(scope="session")
def helm() -> str:
    if HELM is None:
        pytest.skip("helm not found in .tools/bin or PATH: run .ci/tools.sh (CI always does)")
    return HELM


@pytest.fixture
def chart(helm: str) -> Callable[..., Rendered]:
    """`chart(values_files=..., set_values=...)` renders; raises RenderError when helm refuses."""
    return render


@pytest.fixture
def default_objects(helm: str) -> Rendered:
    return render()


@pytest.fixture
def all_on_objects(helm: str) -> Rendered:
    return render(values_files=[ALL_ON])


@pytest.fixture(params=["defaults", "all-on"])
def any_objects(request: pytest.FixtureRequest, helm: str) -> Rendered:
    """Each test using this runs once with default values and once with every option on."""
    return render(values_files=[ALL_ON] if request.param == "all-on" else [])


# The controls of the Baseline and Restricted policies as the Kubernetes documentation lists
# them (concepts/security/pod-security-standards), applied to a pod spec the way the
# PodSecurity admission controller does: a pod-level setting counts for every container that
# does not override it.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What in ``pod`` (a PodSpec) the restricted profile forbids; empty = it passes."""
    out: list[str] = []
    psc = pod.get("securityContext", {})
    containers = [
        *pod.get("initContainers", []),
        *pod.get("containers", []),
        *pod.get("ephemeralContainers", []),
    ]

    # Baseline.
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            out.append(f"host namespaces: {field}")
    if psc.get("windowsOptions", {}).get("hostProcess"):
        out.append("HostProcess pod")
    for v in pod.get("volumes", []):
        if "hostPath" in v:
            out.append(f"hostPath volume {v['name']}")
    for sysctl in psc.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            out.append(f"unsafe sysctl {sysctl['name']}")
    if psc.get("seLinuxOptions", {}).get("user") or psc.get("seLinuxOptions", {}).get("role"):
        out.append("pod SELinux user/role set")
    if psc.get("appArmorProfile", {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
        out.append("pod AppArmor profile")

    # Restricted, pod level.
    for v in pod.get("volumes", []):
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            out.append(f"volume {v['name']} of type {sorted(kinds)}")
    if psc.get("runAsUser") == 0:
        out.append("pod runAsUser 0")
    pod_seccomp = psc.get("seccompProfile", {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        out.append(f"pod seccomp {pod_seccomp}")

    for c in containers:
        name = c["name"]
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        if sc.get("windowsOptions", {}).get("hostProcess"):
            out.append(f"{name}: HostProcess")
        for p in c.get("ports", []):
            if p.get("hostPort"):
                out.append(f"{name}: hostPort {p['hostPort']}")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{name}: procMount")
        if sc.get("seLinuxOptions", {}).get("user") or sc.get("seLinuxOptions", {}).get("role"):
            out.append(f"{name}: SELinux user/role set")
        if sc.get("appArmorProfile", {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
            out.append(f"{name}: AppArmor profile")
        caps = sc.get("capabilities", {})
        added = set(caps.get("add", []))
        if not added <= BASELINE_CAPABILITIES:
            out.append(f"{name}: adds {sorted(added - BASELINE_CAPABILITIES)}")
        # Restricted, container level.
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation must be false")
        if not sc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            out.append(f"{name}: runAsNonRoot must be true")
        if sc.get("runAsUser") == 0:
            out.append(f"{name}: runAsUser 0")
        seccomp = sc.get("seccompProfile", {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost, is {seccomp}")
        if "ALL" not in caps.get("drop", []):
            out.append(f"{name}: capabilities must drop ALL")
        if not added <= {"NET_BIND_SERVICE"}:
            out.append(f"{name}: may add only NET_BIND_SERVICE")
    return out


@pytest.fixture(name="restricted_violations")
def restricted_violations_fixture() -> Callable[[dict[str, Any]], list[str]]:
    return restricted_violations


@pytest.fixture
def refusal(helm: str) -> Callable[..., str]:
    """`refusal(set_values=[...])` renders expecting helm to refuse; returns helm's message."""

    def refuse(**kwargs: Any) -> str:
        try:
            render(**kwargs)
        except RenderError as e:
            return str(e)
        raise AssertionError(f"helm rendered values it should refuse: {kwargs}")

    return refuse
