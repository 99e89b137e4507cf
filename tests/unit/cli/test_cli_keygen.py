"""`workspace-link keygen`: one key pair, as a private Secret for this side and a public one for the peer."""

from __future__ import annotations

import pathlib

import wl_cli_helpers as h
import yaml

from workspace_link.core import keys


def test_keygen_writes_a_private_and_a_public_secret(tmp_path: pathlib.Path) -> None:
    run = h.run_cli(
        "keygen", "--name", "link-to-b", "--namespace", "workspace-a", "--peer-namespace", "workspace-b",
        "--bits", "2048", "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert run.code == 0, run.err
    private_path, public_path = tmp_path / "link-to-b-private.yaml", tmp_path / "link-to-b-public.yaml"
    assert h.mode(private_path) == 0o600
    (private,) = h.load_yaml(private_path)
    (public,) = h.load_yaml(public_path)
    assert (private["metadata"]["namespace"], private["metadata"]["name"]) == (
        "workspace-a",
        "link-to-b-private",
    )
    assert (public["metadata"]["namespace"], public["metadata"]["name"]) == (
        "workspace-b",
        "link-to-b-public",
    )
    key = keys.load_private_key(h.secret_entry(private, "private.pem"), source="test")
    trusted = keys.load_public_keys(h.secret_entry(public, "public.pem"), source="test")
    assert set(trusted) == {keys.key_id(key.public_key())}
    assert f"key id: {keys.key_id(key.public_key())}" in run.out
    assert "generating 2048-bit key for workspace-a/link-to-b ... done" in run.err
    assert private["data"]["private.pem"][20:80] not in run.out + run.err
    assert "BEGIN" not in run.out + run.err


def test_keygen_defaults_to_3072_bits(tmp_path: pathlib.Path) -> None:
    run = h.run_cli("keygen", "--name", "k", "--namespace", "ns", "--out-dir", str(tmp_path))
    assert run.code == 0, run.err
    (private,) = h.load_yaml(tmp_path / "k-private.yaml")
    assert keys.load_private_key(h.secret_entry(private, "private.pem"), source="test").key_size == 3072
    (public,) = h.load_yaml(tmp_path / "k-public.yaml")
    assert public["metadata"]["namespace"] == "ns"


def test_private_key_goes_to_stdout_only_when_asked(tmp_path: pathlib.Path) -> None:
    run = h.run_cli(
        "keygen", "--name", "k", "--namespace", "ns", "--bits", "2048", "--out-dir", str(tmp_path),
        "--stdout-private",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert [p.name for p in h.files_under(tmp_path)] == ["k-public.yaml"]
    (private,) = [d for d in yaml.safe_load_all(run.out) if d]
    key = keys.load_private_key(h.secret_entry(private, "private.pem"), source="stdout")
    (public,) = h.load_yaml(tmp_path / "k-public.yaml")
    assert set(keys.load_public_keys(h.secret_entry(public, "public.pem"), source="file")) == {
        keys.key_id(key.public_key())
    }


def test_keygen_bad_input_writes_nothing(tmp_path: pathlib.Path) -> None:
    for argv, message in (
        (["--name", "Bad Name", "--namespace", "ns"], "--name: 'Bad Name' is not a valid name"),
        (["--name", "k", "--namespace", "ns", "--bits", "512"], "--bits: must be at least 2048, got 512"),
        (["--name", "k", "--namespace", "NS"], "--namespace: 'NS' is not a namespace name"),
        (["--name", "k"], "the following arguments are required: --namespace"),
    ):
        run = h.run_cli("keygen", *argv, "--out-dir", str(tmp_path / "out"))
        assert run.code == 2, argv
        assert message in run.err
        assert len(run.err.strip().splitlines()) == 1
    assert h.files_under(tmp_path) == []
