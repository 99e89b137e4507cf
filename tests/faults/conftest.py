"""Fixtures of the fault and abuse suite; it reuses the link's integration harness."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "link"))
# The operator path (both operators on the API server emulator): test_faults_kill9.
sys.path.append(str(Path(__file__).parents[1] / "integration" / "kopf"))

from fault_helpers import b_only
from link_harness import identities, linked, tls

__all__ = ["b_only", "identities", "linked", "tls"]
