"""Fixtures of the link's integration tests; the harness itself is in ``link_harness``."""

from link_harness import identities, linked, tls

__all__ = ["identities", "linked", "tls"]
