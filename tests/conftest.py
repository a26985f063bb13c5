"""Shared fixtures: a real Docker engine with the test image. Tests that need it never skip: they fail."""

import pathlib
import subprocess

import docker
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Make sure an engine answers and shoal-test:latest exists (bin/shoal-docker-env), or fail the test."""
    result = subprocess.run([str(REPO / "bin" / "shoal-docker-env")], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"no Docker engine could be had: {result.stdout}{result.stderr}".strip()


@pytest.fixture(scope="session")
def docker_client(docker_engine) -> docker.DockerClient:
    """A docker-py client of the engine that ``docker_engine`` guarantees."""
    client = docker.from_env()
    client.ping()
    yield client
    client.close()
