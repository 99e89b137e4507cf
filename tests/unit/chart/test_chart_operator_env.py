"""The environment the chart gives the operator is one the operator reads and accepts.

A typo in a WL_* name would be silently ignored by Settings.from_env and the operator would run
on a default (a runner image or API URL that does not exist); this catches it at render time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from workspace_link.adapters import logs
from workspace_link.adapters.kube import handlers
from workspace_link.core import settings

#: Variables read outside Settings: the watched namespace goes to kopf's --namespace, the pod's
#: name is kopf's identity of the operator.
NOT_SETTINGS = {"WL_NAMESPACE", "POD_NAME"}


def operator_env(objs: Any) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = objs.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def test_every_variable_names_an_operator_setting(any_objects: Any) -> None:
    known = {f"WL_{f.name.upper()}" for f in dataclasses.fields(settings.Settings)} | NOT_SETTINGS
    names = [e["name"] for e in operator_env(any_objects)]
    assert len(names) == len(set(names)), "a variable is set twice"
    assert set(names) <= known, sorted(set(names) - known)


def test_the_settings_parse(any_objects: Any) -> None:
    env = {e["name"]: e["value"] for e in operator_env(any_objects) if "value" in e}
    parsed = settings.Settings.from_env(env)
    assert parsed.runner_api_url.startswith("http://") and parsed.runner_api_url.endswith(":8081")


def test_defaults_point_runners_at_this_release(default_objects: Any) -> None:
    env = {e["name"]: e for e in operator_env(default_objects)}
    parsed = settings.Settings.from_env({k: v["value"] for k, v in env.items() if "value" in v})
    assert parsed.runner_api_url == "http://workspace-link-runner-api.workspace-a.svc:8081"
    assert parsed.runner_image == "workspace-link:0.1.0"
    assert parsed.runner_service_account == "workspace-link-runner"
    assert parsed.tls_cert_file == "/etc/workspace-link/tls/tls.crt"
    assert parsed.keys_namespace is None
    assert (parsed.log_level, parsed.log_format) == ("INFO", "text")
    assert env["WL_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_the_operator_knows_its_pod_name_without_a_passwd_entry(any_objects: Any) -> None:
    env = {e["name"]: e for e in operator_env(any_objects)}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert handlers.POD_NAME_ENV == "POD_NAME"


def test_all_on_values_reach_the_operator(all_on_objects: Any) -> None:
    env = {e["name"]: e["value"] for e in operator_env(all_on_objects) if "value" in e}
    parsed = settings.Settings.from_env(env)
    assert parsed.runner_image == "registry.example.com/workspace-link-runner:1.2.3-slim"
    assert parsed.keys_namespace == "workspace-keys"
    assert parsed.peer_lost_timeout == 1800.0
    assert parsed.exchange_batch == 100
    assert parsed.runner_image_pull_secrets == "registry-creds"
    assert parsed.runner_node_selector == '{"pool":"flows"}'
    assert parsed.runner_tolerations == '[{"effect":"NoSchedule","key":"flows","operator":"Exists"}]'
    assert (parsed.runner_cpu_limit, parsed.runner_memory_limit) == ("2", "1Gi")
    assert (parsed.log_level, parsed.log_format) == ("DEBUG", "json")


@pytest.mark.parametrize(
    ("value", "accepted"), [("logLevel=info", logs.LEVELS), ("logFormat=yaml", logs.FORMATS)]
)
def test_helm_accepts_exactly_the_log_settings_the_operator_accepts(
    refusal: Callable[..., str], value: str, accepted: tuple[str, ...]
) -> None:
    message = refusal(set_values=[f"operator.{value}"])
    assert f"/operator/{value.split('=')[0]}" in message
    assert ", ".join(f"'{a}'" for a in accepted) in message
