"""`link --issue-ca`: the CA the dialer gets verifies the certificate the listener serves."""

from __future__ import annotations

import datetime
import pathlib
import ssl

import pytest
import wl_cli_helpers as h
from cryptography import x509
from cryptography.x509 import verification

from workspace_link.core import certs, errors

HOST = "workspace-link-sync.workspace-b.svc"


def _material(out_dir: pathlib.Path) -> tuple[bytes, bytes, bytes]:
    a = h.by_kind_name(h.load_yaml(out_dir / "workspace-a.yaml"))
    b = h.by_kind_name(h.load_yaml(out_dir / "workspace-b.yaml"))
    ca = h.secret_entry(a["Secret", "link-to-b-ca"], "ca.crt")
    tls = b["Secret", "workspace-link-sync-tls"]
    assert tls["type"] == "kubernetes.io/tls"
    return ca, h.secret_entry(tls, "tls.crt"), h.secret_entry(tls, "tls.key")


def _verify(ca_pem: bytes, cert_pem: bytes, host: str) -> None:
    store = verification.Store(x509.load_pem_x509_certificates(ca_pem))
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName(host))
    verifier.verify(x509.load_pem_x509_certificate(cert_pem), [])


def _handshake(ca_pem: bytes, cert_pem: bytes, key_pem: bytes, host: str, tmp_path: pathlib.Path) -> None:
    """A real TLS handshake in memory: the listener serves the pair, the dialer trusts only the CA."""
    (tmp_path / "tls.crt").write_bytes(cert_pem)
    (tmp_path / "tls.key").write_bytes(key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client_ctx = ssl.create_default_context(cadata=ca_pem.decode())
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=host)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end, outgoing, incoming in (
            ("client", client, c_out, s_in),
            ("server", server, s_out, c_in),
        ):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            incoming.write(outgoing.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def test_ca_verifies_the_serving_certificate_for_the_listener_host(
    linked: tuple[h.Run, pathlib.Path],
) -> None:
    run, out_dir = linked
    assert run.code == 0, run.err
    ca, cert, _ = _material(out_dir)
    _verify(ca, cert, HOST)
    with pytest.raises(verification.VerificationError):
        _verify(ca, cert, "evil.example")
    assert f"issuing a throwaway CA and a serving certificate for {HOST} ... done" in run.err


def test_a_dialer_trusting_only_the_ca_completes_a_tls_handshake(
    linked: tuple[h.Run, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    ca, cert, key = _material(linked[1])
    _handshake(ca, cert, key, HOST, tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(ca, cert, key, "evil.example", tmp_path)


def test_the_tls_secret_carries_the_ca_like_cert_manager_does(linked: tuple[h.Run, pathlib.Path]) -> None:
    b = h.by_kind_name(h.load_yaml(linked[1] / "workspace-b.yaml"))
    ca, _, _ = _material(linked[1])
    assert h.secret_entry(b["Secret", "workspace-link-sync-tls"], "ca.crt") == ca


def test_several_listener_hosts_and_an_ip(tmp_path: pathlib.Path) -> None:
    run = h.run_cli(
        *h.LINK_ARGS,
        "--issue-ca",
        "--listener-host", HOST,
        "--listener-host", "sync.b.example.org",
        "--listener-host", "127.0.0.1",
        "--bits", "2048",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert run.code == 0, run.err
    ca, cert, key = _material(tmp_path)
    _verify(ca, cert, HOST)
    _verify(ca, cert, "sync.b.example.org")
    _handshake(ca, cert, key, "127.0.0.1", tmp_path)


def test_a_second_ca_does_not_verify_the_first_certificate() -> None:
    first = certs.issue_serving_certificate([HOST])
    second = certs.issue_serving_certificate([HOST])
    with pytest.raises(verification.VerificationError):
        _verify(second.ca_pem, first.cert_pem, HOST)


def test_validity_is_the_asked_number_of_days() -> None:
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    issued = certs.issue_serving_certificate([HOST], days=30, now=now)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert cert.not_valid_after_utc - now == datetime.timedelta(days=30)


@pytest.mark.parametrize("host", ["", "*.svc", "under_score.svc", "a" * 64 + ".svc"])
def test_hosts_a_certificate_cannot_name_are_refused(host: str) -> None:
    with pytest.raises(errors.SpecError, match="listener_host"):
        certs.issue_serving_certificate([host])
