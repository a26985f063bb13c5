"""The CLI starts fast because a control-API command imports only what it needs: never the Docker SDK,
asyncio, prometheus or an actor's server code (issue 8: ``shoal service ls`` under 150 ms)."""

import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
NEVER = ("docker", "asyncio", "prometheus_client", "requests", "actors.raft", "actors.controlapi", "actors.executor",
         "actors.common.supervisor")
PROBE = """
import json, sys
sys.argv = ["shoal", "--state-dir", sys.argv[1], *sys.argv[2:]]
from actors.cli.main import run
try:
    run()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("args", [["service", "ls"], ["service", "ps", "web"], ["node", "ls"], ["node", "ps"],
                                  ["service", "create", "--limit-memory", "64M", "img"],
                                  ["service", "update", "--image", "x", "web"], ["service", "inspect", "--pretty", "web"],
                                  ["secret", "ls"], ["config", "inspect", "--pretty", "c"],
                                  ["stack", "ls"], ["stack", "ps", "app"]])
def test_control_api_commands_import_neither_docker_nor_asyncio(args, tmp_path):
    # No host in tmp_path: the command fails at its first call, after every import it needs is done.
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), *args], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert "not a swarm manager" in result.stderr  # it got as far as reaching for the cluster
    assert "zmq" in modules and "click" in modules
    imported = [m for m in modules if any(m == never or m.startswith(never + ".") for never in NEVER)]
    assert not imported, f"shoal {' '.join(args)} imported {imported}"
