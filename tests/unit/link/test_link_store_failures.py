"""A store failure the engine retries is a warning when transient, an admin's error once when refused."""

import logging

import pytest

from workspace_link.core import errors
from workspace_link.engine import store


def test_a_refusal_is_an_error_once_per_message_and_a_transient_failure_a_warning_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = store.FailureLog(logging.getLogger("test.store_failures"))
    with caplog.at_level(logging.WARNING, logger="test.store_failures"):
        for _ in range(3):
            log.failed("SyncConfig a: could not read it", errors.StoreRefused("forbidden: syncconfigs"))
            log.failed("SyncConfig a: could not read it", errors.StoreUnavailable("503"))
        log.failed("SyncConfig a: could not read it", errors.StoreRefused("the CRD is missing"))
    errors_logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(errors_logged) == 2
    assert "forbidden: syncconfigs" in errors_logged[0] and "an admin must act" in errors_logged[0]
    assert "the CRD is missing" in errors_logged[1]
    assert len(warnings) == 3
