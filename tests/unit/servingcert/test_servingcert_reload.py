"""A renewed listener certificate is served without a restart; a broken renewal is not."""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from cryptography import x509

from workspace_link.adapters.http import servingcert
from workspace_link.core import errors


def _write(leaf: trustme.LeafCert, directory: Path, *, stamp: int) -> None:
    cert, key = directory / "tls.crt", directory / "tls.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    for path in (cert, key):  # distinct stamps even when the writes fall in one clock tick
        os.utime(path, ns=(stamp, stamp))


async def _served_serial(port: int, ca: trustme.CA) -> int:
    client = ssl.create_default_context()
    ca.configure_trust(client)
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost")
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return x509.load_der_x509_certificate(der).serial_number


def serial(leaf: trustme.LeafCert) -> int:
    return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).serial_number


async def test_a_renewed_certificate_is_served_to_new_connections(tmp_path: Path) -> None:
    ca = trustme.CA()
    first, second = ca.issue_cert("localhost"), ca.issue_cert("localhost")
    _write(first, tmp_path, stamp=1_000_000_000)
    certificate = servingcert.ServingCertificate(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))
    runner = web.AppRunner(web.Application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=certificate.context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await _served_serial(port, ca) == serial(first)
        assert certificate.reload_if_changed() is False  # nothing changed yet

        _write(second, tmp_path, stamp=2_000_000_000)
        assert certificate.reload_if_changed() is True
        assert await _served_serial(port, ca) == serial(second)

        # A half-written renewal keeps the last good certificate.
        (tmp_path / "tls.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\ntruncated")
        os.utime(tmp_path / "tls.key", ns=(3_000_000_000, 3_000_000_000))
        assert certificate.reload_if_changed() is False
        assert await _served_serial(port, ca) == serial(second)
    finally:
        await runner.cleanup()


def test_unusable_files_at_startup_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(errors.SpecError) as info:
        servingcert.ServingCertificate(str(tmp_path / "missing.crt"), str(tmp_path / "missing.key"))
    assert info.value.field == "WL_TLS_CERT_FILE"
    assert "missing.crt" in str(info.value)
