"""Shared fixtures: a real Docker engine with the test image (tests that need it never skip)."""

import pathlib
import subprocess

import docker
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def docker_engine():
    """Make sure an engine answers and shoal-test:latest exists (bin/shoal-docker-env), or fail."""
    result = subprocess.run([str(REPO / "bin" / "shoal-docker-env")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"no Docker engine could be had: {result.stderr.strip()}"
    client = docker.from_env()
    client.ping()
    return client
