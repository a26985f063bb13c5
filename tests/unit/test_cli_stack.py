"""``shoal stack deploy`` refuses what Shoal cannot honour, and a bad file, in one line with exit 1, before
it reaches for a cluster (the state directory here has none)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def shoal(tmp_path, *args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bin" / "shoal"), "--state-dir", str(tmp_path / "state"), *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, input=stdin)


@pytest.mark.parametrize("flags, message", [
    (["--resolve-image", "always"], "Error: --resolve-image always is not supported: Shoal never resolves image "
                                    "digests (images are used as named); use --resolve-image never\n"),
    (["--with-registry-auth"], "Error: --with-registry-auth is not supported: Shoal's nodes pull with their "
                               "engine's own credentials\n"),
])
def test_flags_shoal_cannot_honour_are_refused(tmp_path, flags, message):
    (tmp_path / "stack.yml").write_text("services:\n  web:\n    image: shoal-test:latest\n")
    result = shoal(tmp_path, "stack", "deploy", "-c", "stack.yml", *flags, "app")
    assert (result.returncode, result.stderr) == (1, message)


def test_a_bad_file_is_refused_before_the_cluster_is_asked(tmp_path):
    (tmp_path / "stack.yml").write_text("services:\n  web:\n    image: shoal-test:latest\n    deploy:\n      replicas: -1\n")
    result = shoal(tmp_path, "stack", "up", "-c", "stack.yml", "app")
    assert result.returncode == 1
    assert result.stderr == (f"Error: {tmp_path}/stack.yml:5: services.web.deploy.replicas: must be a whole number "
                             ">= 0, not -1\n")
    named = shoal(tmp_path, "stack", "deploy", "-c", "stack.yml", "bad name")
    assert named.stderr == "Error: invalid stack name 'bad name': use letters, digits, '_', '.', '-' (at most 61)\n"


def test_a_file_on_standard_input_finds_its_env_file_in_the_working_directory(tmp_path):
    (tmp_path / ".env").write_text("REPLICAS=many\n")
    result = shoal(tmp_path, "stack", "deploy", "-c", "-", "app",
                   stdin="services:\n  web:\n    image: x\n    deploy:\n      replicas: ${REPLICAS}\n")
    assert (result.returncode, result.stderr) == (1, "Error: -:5: services.web.deploy.replicas: must be a whole number "
                                                     ">= 0, not 'many'\n")


def test_detach_reads_as_dockers_boolean_flag(tmp_path):
    (tmp_path / "stack.yml").write_text("services:\n  web:\n    image: shoal-test:latest\n")
    bare = shoal(tmp_path, "stack", "deploy", "-c", "stack.yml", "-d", "app", "--resolve-image", "changed")
    assert (bare.returncode, bare.stderr.split(":")[0:2]) == (1, ["Error", " --resolve-image changed is not supported"])
    wrong = shoal(tmp_path, "stack", "deploy", "-c", "stack.yml", "--detach=maybe", "app")
    assert wrong.returncode != 0 and "'maybe' is not a valid boolean" in wrong.stderr
