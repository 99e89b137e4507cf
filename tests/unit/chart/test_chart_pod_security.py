"""The operator's pod passes the Pod Security Standards "restricted" profile, and its probes,
ports and resources are what the operator serves.

The checks below are the controls of the Baseline and Restricted policies as the Kubernetes
documentation lists them (concepts/security/pod-security-standards), applied to a pod spec the
way the PodSecurity admission controller does: a pod-level setting counts for every container
that does not override it.
"""

from __future__ import annotations

from typing import Any

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


def test_the_checks_catch_what_restricted_forbids() -> None:
    """The checker itself: a default-ish pod breaks several rules, each reported."""
    loose = {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
             "volumes": [{"name": "h", "hostPath": {"path": "/"}}], "hostNetwork": True}  # fmt: skip
    found = "\n".join(restricted_violations(loose))
    for words in (
        "hostNetwork",
        "hostPath",
        "NET_ADMIN",
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccomp",
        "drop ALL",
    ):
        assert words in found


def pod_spec(objs: Any) -> dict[str, Any]:
    spec: dict[str, Any] = objs.one("Deployment")["spec"]["template"]["spec"]
    return spec


def test_operator_pod_passes_the_restricted_profile(any_objects: Any) -> None:
    assert restricted_violations(pod_spec(any_objects)) == []


def test_operator_pod_runs_as_a_numeric_non_root_user_on_a_read_only_root(any_objects: Any) -> None:
    pod = pod_spec(any_objects)
    assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] > 0
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])


def test_operator_probes_health_and_has_resources(any_objects: Any) -> None:
    (container,) = pod_spec(any_objects)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert ports["health"] == 8080
    assert set(container["resources"]) == {"requests", "limits"}


def test_one_operator_replaced_never_run_twice(any_objects: Any) -> None:
    spec = any_objects.one("Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_runner_pods_may_reach_only_dns_and_the_runner_api(any_objects: Any) -> None:
    policy = any_objects.one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/managed-by": "workspace-link",
        "app.kubernetes.io/component": "runner",
    }
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["ingress"] == []
    dns, api, *extra = policy["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert all("namespaceSelector" in peer for peer in dns["to"])
    operator_labels = any_objects.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    (peer,) = api["to"]
    assert peer.keys() == {"podSelector"}
    assert peer["podSelector"]["matchLabels"].items() <= operator_labels.items()
    runner_port = next(
        p["containerPort"]
        for p in pod_spec(any_objects)["containers"][0]["ports"]
        if p["name"] == "runner-api"
    )
    assert api["ports"] == [{"port": runner_port, "protocol": "TCP"}]
    # Only what the admin added by value; the all-on values add one rule.
    assert len(extra) in (0, 1)


def test_the_labels_the_network_policy_selects_are_the_operators_runner_labels() -> None:
    """The Job builder labels runner pods with these keys (labels.py): the policy must use them."""
    from workspace_link import labels

    assert labels.MANAGED_BY == "app.kubernetes.io/managed-by"
    assert labels.MANAGED_BY_VALUE == "workspace-link"
    assert labels.COMPONENT == "app.kubernetes.io/component"
