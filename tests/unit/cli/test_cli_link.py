"""`workspace-link link`: one command writes both sides' manifests; two `kubectl apply` link them."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import wl_cli_helpers as h
from cryptography.hazmat.primitives import serialization

from workspace_link.core import keys

A_FILE, B_FILE = "workspace-a.yaml", "workspace-b.yaml"


def _sides(out_dir: pathlib.Path) -> tuple[dict[Any, Any], dict[Any, Any]]:
    return h.by_kind_name(h.load_yaml(out_dir / A_FILE)), h.by_kind_name(h.load_yaml(out_dir / B_FILE))


def test_link_writes_one_private_file_per_side(linked: tuple[h.Run, pathlib.Path]) -> None:
    run, out_dir = linked
    assert run.code == 0, run.err
    assert [p.name for p in h.files_under(out_dir)] == [A_FILE, B_FILE]
    assert h.mode(out_dir / A_FILE) == 0o600
    assert h.mode(out_dir / B_FILE) == 0o600
    assert f"kubectl apply -f {out_dir / B_FILE}" in run.out
    assert f"kubectl apply -f {out_dir / A_FILE}" in run.out
    assert "generating 2048-bit key for workspace-a ... done" in run.err
    assert "generating 2048-bit key for workspace-b ... done" in run.err


def test_link_writes_secrets_before_the_sync_configs(linked: tuple[h.Run, pathlib.Path]) -> None:
    _, out_dir = linked
    a = [
        (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in h.load_yaml(out_dir / A_FILE)
    ]
    b = [
        (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in h.load_yaml(out_dir / B_FILE)
    ]
    assert a == [
        ("Secret", "workspace-a", "link-to-b-private"),
        ("Secret", "workspace-a", "link-to-b-remote"),
        ("Secret", "workspace-a", "link-to-b-ca"),
        ("SyncConfig", "workspace-a", "link-to-b"),
    ]
    assert b == [
        ("Secret", "workspace-b", "link-to-a-private"),
        ("Secret", "workspace-b", "link-to-a-remote"),
        ("Secret", "workspace-b", "workspace-link-sync-tls"),
        ("SyncConfig", "workspace-b", "link-to-a"),
    ]


def test_sync_configs_validate_and_point_at_each_other(
    linked: tuple[h.Run, pathlib.Path], crd_validator: Any
) -> None:
    a, b = _sides(linked[1])
    a_config, b_config = a["SyncConfig", "link-to-b"], b["SyncConfig", "link-to-a"]
    crd_validator.validate(a_config)
    crd_validator.validate(b_config)
    assert (
        a_config["spec"]["remoteUrl"]
        == "https://workspace-link-sync.workspace-b.svc:8443/api/latest/sync_config/link-to-a/sync"
    )
    assert "remoteUrl" not in b_config["spec"]  # B listens
    assert a_config["spec"]["caCertificate"] == {"kind": "Secret", "name": "link-to-b-ca", "key": "ca.crt"}
    for side, config in ((a, a_config), (b, b_config)):
        own = side["Secret", config["spec"]["ownPrivateKey"]["secretName"]]
        assert config["spec"]["ownPrivateKey"]["key"] in own["data"]
        assert ("Secret", config["spec"]["remotePublicKey"]["secretName"]) in side


def test_each_side_holds_the_peers_public_key(linked: tuple[h.Run, pathlib.Path]) -> None:
    a, b = _sides(linked[1])
    a_private = keys.load_private_key(
        h.secret_entry(a["Secret", "link-to-b-private"], "private.pem"), source="a"
    )
    b_private = keys.load_private_key(
        h.secret_entry(b["Secret", "link-to-a-private"], "private.pem"), source="b"
    )
    a_trusts = keys.load_public_keys(
        h.secret_entry(a["Secret", "link-to-b-remote"], "public.pem"), source="a"
    )
    b_trusts = keys.load_public_keys(
        h.secret_entry(b["Secret", "link-to-a-remote"], "public.pem"), source="b"
    )
    assert set(a_trusts) == {keys.key_id(b_private.public_key())}
    assert set(b_trusts) == {keys.key_id(a_private.public_key())}
    assert a_private.private_numbers() != b_private.private_numbers()
    assert a_private.key_size == b_private.key_size == 2048
    assert keys.key_id(a_private.public_key()) in linked[0].out  # printed to compare with status.keyId


def test_no_private_key_reaches_the_terminal(linked: tuple[h.Run, pathlib.Path]) -> None:
    run, out_dir = linked
    a, b = _sides(out_dir)
    secrets = [
        a["Secret", "link-to-b-private"]["data"]["private.pem"],
        b["Secret", "link-to-a-private"]["data"]["private.pem"],
        b["Secret", "workspace-link-sync-tls"]["data"]["tls.key"],
    ]
    for encoded in secrets:
        pem = h.secret_entry({"data": {"k": encoded}}, "k").decode()
        body = "".join(pem.splitlines()[1:-1])
        for text in (run.out, run.err):
            assert encoded[20:80] not in text
            assert body[20:80] not in text
    assert "BEGIN" not in run.out + run.err


def test_the_example_sync_configs_are_what_link_writes(linked: tuple[h.Run, pathlib.Path]) -> None:
    # examples/two-workspaces/README.md runs exactly LINK_ARGS with --issue-ca.
    example = h.by_kind_name(
        h.load_yaml(pathlib.Path(__file__).resolve().parents[3] / "examples/two-workspaces/syncconfigs.yaml")
    )
    a, b = _sides(linked[1])
    assert example["SyncConfig", "link-to-b"] == a["SyncConfig", "link-to-b"]
    assert example["SyncConfig", "link-to-a"] == b["SyncConfig", "link-to-a"]


def test_role_interval_and_mirroring_land_on_the_right_side(
    tmp_path: pathlib.Path, crd_validator: Any
) -> None:
    run = h.run_cli(
        *h.LINK_ARGS,
        "--role", "Controlled",
        "--sync-interval", "30",
        "--send-all-executions",
        "--bits", "2048",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert run.code == 0, run.err
    a, b = _sides(tmp_path)
    a_spec, b_spec = a["SyncConfig", "link-to-b"]["spec"], b["SyncConfig", "link-to-a"]["spec"]
    # A dials but is controlled: B (the controller) mirrors its executions.
    assert (a_spec["role"], b_spec["role"]) == ("Controlled", "Controlling")
    assert (a_spec["sendAllExecutions"], b_spec["sendAllExecutions"]) == (False, True)
    assert a_spec["syncInterval"] == 30
    assert "syncInterval" not in b_spec  # the listener has no rhythm of its own
    assert "caCertificate" not in a_spec  # no --issue-ca: the listener's CA is a public or own one
    for body in (*a.values(), *b.values()):
        if body["kind"] == "SyncConfig":
            crd_validator.validate(body)


def test_keys_namespace_moves_only_the_secrets(tmp_path: pathlib.Path) -> None:
    run = h.run_cli(
        *h.LINK_ARGS,
        "--keys-namespace", "link-keys",
        "--b-keys-namespace", "b-keys",
        "--issue-ca",
        "--bits", "2048",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert run.code == 0, run.err
    a, b = _sides(tmp_path)
    namespaces = {
        (kind, name): body["metadata"]["namespace"] for side in (a, b) for (kind, name), body in side.items()
    }
    assert namespaces == {
        ("Secret", "link-to-b-private"): "link-keys",
        ("Secret", "link-to-b-remote"): "link-keys",
        ("Secret", "link-to-b-ca"): "link-keys",
        ("SyncConfig", "link-to-b"): "workspace-a",
        ("Secret", "link-to-a-private"): "b-keys",
        ("Secret", "link-to-a-remote"): "b-keys",
        ("Secret", "workspace-link-sync-tls"): "workspace-b",  # mounted by the listener's pod
        ("SyncConfig", "link-to-a"): "workspace-b",
    }


def test_existing_files_are_not_overwritten_without_force(tmp_path: pathlib.Path) -> None:
    (tmp_path / A_FILE).write_text("keys in use\n")
    run = h.run_cli(*h.LINK_ARGS, "--bits", "2048", "--out-dir", str(tmp_path))
    assert run.code == 2
    assert "--force" in run.err
    assert (tmp_path / A_FILE).read_text() == "keys in use\n"
    assert not (tmp_path / B_FILE).exists()
    forced = h.run_cli(*h.LINK_ARGS, "--bits", "2048", "--out-dir", str(tmp_path), "--force")
    assert forced.code == 0, forced.err
    assert h.mode(tmp_path / A_FILE) == 0o600  # the old file's mode is not kept


BAD = [
    (["--b-url", "http://peer:8443"], "--b-url: must start with https://"),
    (["--b-url", "https://peer:8443/api/latest/sync_config/x/sync"], "--b-url: give only https://"),
    (["--b-url", "https://"], "--b-url: has no host"),
    (["--b-url", "https://peer:99999"], "--b-url: has an invalid port"),
    (["--a-namespace", "Workspace_A"], "--a-namespace: 'Workspace_A' is not a namespace name"),
    (["--name-b", "Link To A"], "--name-b: 'Link To A' is not a valid name"),
    (["--sync-interval", "0"], "--sync-interval: must be between 1 and 86400 seconds, got 0"),
    (["--sync-interval", "soon"], "argument --sync-interval: invalid int value: 'soon'"),
    (["--role", "Boss"], "argument --role: invalid choice: 'Boss'"),
    (["--bits", "1024"], "--bits: must be at least 2048, got 1024"),
    (["--issue-ca", "--listener-host", "other.example"], "--listener-host: must include"),
    (["--issue-ca", "--listener-host", "*.example"], "--listener-host: '*.example' is not a DNS name"),
    (["--listener-host", "x.example"], "--listener-host: only makes sense with --issue-ca"),
    (["--issue-ca", "--ca-days", "0"], "--ca-days: must be between 1 and 3650, got 0"),
    (
        ["--name-a", "same", "--name-b", "same", "--keys-namespace", "k"],
        "--name-b: must differ from --name-a",
    ),
]


@pytest.mark.parametrize(("extra", "message"), BAD, ids=[m.split(":")[0] + " " + m for _, m in BAD])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: pathlib.Path, extra: list[str], message: str
) -> None:
    out_dir = tmp_path / "out"
    run = h.run_cli(*h.LINK_ARGS, *extra, "--out-dir", str(out_dir))
    assert run.code == 2
    assert message in run.err
    assert len(run.err.strip().splitlines()) == 1, run.err
    assert "generating" not in run.err  # refused before any work
    assert h.files_under(tmp_path) == []


def test_missing_options_are_named(tmp_path: pathlib.Path) -> None:
    run = h.run_cli("link", "--a-namespace", "workspace-a", "--out-dir", str(tmp_path / "out"))
    assert run.code == 2
    assert "the following arguments are required: --b-namespace, --b-url" in run.err
    assert h.files_under(tmp_path) == []


def test_the_written_keys_are_usable_pem(linked: tuple[h.Run, pathlib.Path]) -> None:
    a, _ = _sides(linked[1])
    pem = h.secret_entry(a["Secret", "link-to-b-private"], "private.pem")
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    serialization.load_pem_private_key(pem, password=None)
