"""Shared pytest configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture
def root() -> Path:
    return ROOT


# Notebooks under tests/data (browser fixtures, hostile homework submissions) are test
# data, not tests: nbval must never collect them.
collect_ignore_glob = ["data/*", "data/**/*"]
