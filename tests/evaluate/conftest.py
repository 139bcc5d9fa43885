"""Fixtures for the evaluation tests: MovieLens-format data generated in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from movielens_fixture import write_movielens


@pytest.fixture(scope="session")
def ml100k(tmp_path_factory) -> Path:
    return write_movielens(tmp_path_factory.mktemp("ml-100k"), "100k")
