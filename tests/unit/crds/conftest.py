from __future__ import annotations

import pytest
import wl_crd_schema


@pytest.fixture(scope="session")
def crd_validator() -> wl_crd_schema.CrdValidator:
    return wl_crd_schema.CrdValidator()
