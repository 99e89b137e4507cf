"""SyncConfig specs become LinkConfigs; referenced keys load from Secrets (and reload on change)."""

from __future__ import annotations

import base64

import pytest

from workspace_link.adapters.local import memstore
from workspace_link.core import errors, keys, link_config, resources
from workspace_link.engine import link_keys


def config_body(**spec: object) -> resources.Body:
    base: dict[str, object] = {
        "ownPrivateKey": {"secretName": "own"},
        "remotePublicKey": {"secretName": "peer"},
    }
    base.update(spec)
    return {"metadata": {"name": "link-to-b", "namespace": "a", "generation": 3}, "spec": base}


def secret(name: str, **entries: bytes) -> resources.Body:
    return {
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v).decode() for k, v in entries.items()},
    }


def test_dialer_controls_by_default() -> None:
    config = link_config.parse(config_body(remoteUrl="https://b.example/api/latest/sync_config/x/sync"))
    assert config.dialer and config.role == "Controlling" and config.mode == "Dialer"
    assert config.enabled and config.verify_ssl and config.interval is None
    assert config.own_private_key == link_config.KeyRef("own", "private.pem")
    assert config.remote_public_key == link_config.KeyRef("peer", None)
    assert config.generation == 3


def test_listener_is_controlled_by_default_and_reverse_dial_keeps_explicit_role() -> None:
    assert link_config.parse(config_body()).role == "Controlled"
    reverse = link_config.parse(config_body(remoteUrl="https://a.example/x", role="Controlled"))
    assert reverse.dialer and reverse.role == "Controlled" and reverse.peer_role == "Controlling"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"remoteUrl": "http://b.example/"}, "spec.remoteUrl"),
        ({"role": "Boss"}, "spec.role"),
        ({"syncInterval": 0}, "spec.syncInterval"),
        ({"syncInterval": "5"}, "spec.syncInterval"),
        ({"enabled": "yes"}, "spec.enabled"),
        ({"ownPrivateKey": None}, "spec.ownPrivateKey"),
        ({"remotePublicKey": {"key": "x"}}, "spec.remotePublicKey.secretName"),
        ({"caCertificate": {"kind": "Pod", "name": "x", "key": "ca"}}, "spec.caCertificate.kind"),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(errors.SpecError) as caught:
        link_config.parse(config_body(**spec))
    assert caught.value.field == field


@pytest.fixture(scope="module")
def pems() -> dict[str, bytes]:
    own = keys.generate_private_key(2048)
    peer1 = keys.generate_private_key(2048)
    peer2 = keys.generate_private_key(2048)
    return {
        "own": keys.private_key_pem(own),
        "peer1": keys.public_key_pem(peer1.public_key()),
        "peer2": keys.public_key_pem(peer2.public_key()),
    }


async def test_keys_load_every_pem_block_and_a_changed_secret_is_picked_up(pems: dict[str, bytes]) -> None:
    store = memstore.MemStore("keys")
    await store.create("Secret", secret("own", **{"private.pem": pems["own"]}))
    await store.create("Secret", secret("peer", **{"public.pem": pems["peer1"]}))
    config = link_config.parse(config_body())
    loaded = await link_keys.load_keys(store, config)
    assert loaded.key_id == keys.key_id(keys.load_private_key(pems["own"], source="t").public_key())
    assert len(loaded.remote_keys) == 1
    assert "BEGIN" not in repr(loaded)

    # Rotation: a second PEM block in the same entry is accepted as soon as the Secret changes.
    both = pems["peer1"] + pems["peer2"]
    await store.patch("Secret", "peer", {"data": {"public.pem": base64.b64encode(both).decode()}})
    assert len((await link_keys.load_keys(store, config)).remote_keys) == 2


async def test_a_missing_secret_or_key_is_named_without_content(pems: dict[str, bytes]) -> None:
    store = memstore.MemStore("keys")
    config = link_config.parse(config_body())
    with pytest.raises(errors.KeyLoadError, match="Secret keys/own not found"):
        await link_keys.load_keys(store, config)
    await store.create("Secret", secret("own", other=pems["own"]))
    with pytest.raises(errors.KeyLoadError, match=r"has no key private\.pem"):
        await link_keys.load_keys(store, config)
    await store.patch("Secret", "own", {"data": {"private.pem": base64.b64encode(b"garbage").decode()}})
    with pytest.raises(errors.KeyLoadError) as caught:
        await link_keys.load_keys(store, config)
    assert "garbage" not in str(caught.value) and "private.pem" in str(caught.value)


async def test_ca_from_a_configmap(pems: dict[str, bytes]) -> None:
    store = memstore.MemStore("keys")
    await store.create("Secret", secret("own", **{"private.pem": pems["own"]}))
    await store.create("Secret", secret("peer", a=pems["peer1"], b=pems["peer2"]))
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    await store.create("ConfigMap", {"metadata": {"name": "ca"}, "data": {"ca.crt": pem}})
    config = link_config.parse(
        config_body(caCertificate={"kind": "ConfigMap", "name": "ca", "key": "ca.crt"})
    )
    loaded = await link_keys.load_keys(store, config)
    assert loaded.ca_pem == pem.encode()
    assert len(loaded.remote_keys) == 2
