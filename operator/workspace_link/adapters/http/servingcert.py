"""The sync listener's TLS certificate, reloaded when its files change.

The certificate comes from a mounted Secret that cert-manager (or an admin) renews in place:
the kubelet swaps the files, the pod keeps running. Loading the new chain into the same
``SSLContext`` makes every new handshake use it, so a renewal needs no restart. A broken
renewal (half-written files, a key that does not match) keeps serving the previous chain and
says why in the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl

from workspace_link.adapters.http import serving

logger = logging.getLogger(__name__)

#: Seconds between checks of the files' modification stamps; renewals are days apart.
CHECK_EVERY = 60.0


class ServingCertificate:
    """The listener's TLS context (``context``), following the certificate and key files it was
    loaded from: ``follow`` reloads them into the same context when they change."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._stamp = self._read_stamp()
        self.context = serving.server_tls_context(cert_file, key_file)

    def _read_stamp(self) -> tuple[int, ...]:
        stamp: list[int] = []
        for path in (self.cert_file, self.key_file):
            try:
                info = os.stat(path)
            except OSError:
                stamp += [0, 0]
            else:
                stamp += [info.st_mtime_ns, info.st_size]
        return tuple(stamp)

    def reload_if_changed(self) -> bool:
        """Load the files again if they changed; True when the new chain is now served."""
        stamp = self._read_stamp()
        if stamp == self._stamp:
            return False
        try:
            self.context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            logger.warning(
                "TLS certificate %s changed but cannot be loaded (%s); serving the previous one",
                self.cert_file,
                exc,
            )
            return False
        self._stamp = stamp
        logger.info("TLS certificate %s reloaded", self.cert_file)
        return True

    async def follow(self, *, every: float = CHECK_EVERY) -> None:
        """Check the files every ``every`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every)
            await asyncio.to_thread(self.reload_if_changed)
