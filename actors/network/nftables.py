"""Puts nft scripts (actors/network/nft.py) into the kernel, in the host's namespace or a container's.

- :func:`run_script` feeds a script to ``nft -f -``, which applies it as
  one transaction; in a container's namespace through ``nsenter
  --net=/proc/PID/ns/net`` (only the network namespace: nft and its
  libraries come from the host).
- :func:`accept_mesh_forwarding`: Docker's ``FORWARD`` chain drops what it
  was not told about (policy drop), and a drop in one nftables base chain
  cannot be overruled from another table, so a routing-mesh connection
  forwarded from another interface to the ingress bridge is accepted in
  ``DOCKER-USER``, the chain Docker keeps for its users. That chain belongs
  to iptables (iptables-nft), so the rule is written with ``iptables``:
  iptables must be able to read back every rule of its tables.
- :func:`allow_localhost_on`: 127.0.0.1 may be routed out of the interface
  holding an address (``route_localnet``), so the host itself reaches a
  published port on 127.0.0.1 once the mesh DNATs it to a task.
- :func:`forget_udp_flows`: conntrack keeps a UDP "connection" to its task
  for as long as the client keeps sending from the same port, even after
  the task left the rotation; those entries are deleted, so the client's
  next datagram is balanced afresh. TCP connections are left alone: one
  in flight to a draining task finishes there.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

from pyroute2 import Conntrack
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

from actors.network import nft

NFT_TIMEOUT = 10  # seconds for one nft (or iptables, ip) run
FORWARD_CHAIN = "DOCKER-USER"
FORWARD_RULE = ["-m", "connmark", "--mark", f"{nft.MESH_MARK:#x}", "-j", "ACCEPT"]


class NftError(Exception):
    """nft (or iptables) refused a change; the message is its own explanation."""


class NamespaceGone(NftError):
    """The container whose namespace was to be changed no longer runs."""


def _run(argv: list[str], script: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=NFT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NftError(f"{argv[0]}: {exc}") from None


def run_script(script: str, pid: int | None = None) -> None:
    """Apply ``script`` with ``nft -f -``: in this process's network namespace, or in that of process
    ``pid`` (a container's). NftError with nft's words if refused; NamespaceGone if ``pid`` has
    exited meanwhile."""
    argv = ["nft", "-f", "-"]
    if pid is not None:
        argv = ["nsenter", f"--net=/proc/{pid}/ns/net", "--", *argv]
    result = _run(argv, script)
    if result.returncode == 0:
        return
    if pid is not None and not os.path.exists(f"/proc/{pid}/ns/net"):
        raise NamespaceGone(f"process {pid} has exited")
    raise NftError(result.stderr.strip() or f"nft exited with {result.returncode}")


def tables() -> list[str]:
    """The names of the ip-family tables in this namespace."""
    result = _run(["nft", "list", "tables", "ip"])
    if result.returncode != 0:
        raise NftError(result.stderr.strip())
    return [line.split()[2] for line in result.stdout.splitlines() if line.startswith("table ip ")]


def _forward_rule(action: str) -> subprocess.CompletedProcess:
    return _run(["iptables", "-w", "5", action, FORWARD_CHAIN, *FORWARD_RULE])


def _has_forward_chain() -> bool:
    """True when iptables exists and has Docker's user chain (a dockerd with its iptables rules)."""
    return shutil.which("iptables") is not None and _run(["iptables", "-w", "5", "-S", FORWARD_CHAIN]).returncode == 0


def accept_mesh_forwarding() -> None:
    """Make Docker's FORWARD chain accept routing-mesh connections (conntrack mark MESH_MARK); once.
    Nothing to do without a DOCKER-USER chain (no dockerd iptables rules: nothing drops)."""
    if not _has_forward_chain() or _forward_rule("-C").returncode == 0:
        return
    result = _forward_rule("-I")
    if result.returncode != 0:
        raise NftError(result.stderr.strip())


def stop_accepting_mesh_forwarding() -> None:
    """Remove what :func:`accept_mesh_forwarding` added, if it is there."""
    if _has_forward_chain():
        while _forward_rule("-C").returncode == 0:
            _forward_rule("-D")


def interface_holding(address: str) -> str | None:
    """The name of the interface that holds IPv4 ``address`` in this namespace, or None."""
    result = _run(["ip", "-j", "-4", "addr", "show"])
    if result.returncode != 0:
        raise NftError(result.stderr.strip())
    for link in json.loads(result.stdout or "[]"):
        if any(info.get("local") == address for info in link.get("addr_info") or ()):
            return link["ifname"]
    return None


def allow_localhost_on(address: str) -> str:
    """Let 127.0.0.1 be routed out of the interface that holds ``address`` (route_localnet); returns
    its name. NftError when no interface holds the address (yet)."""
    name = interface_holding(address)
    if name is None:
        raise NftError(f"no interface holds {address}")
    path = f"/proc/sys/net/ipv4/conf/{name}/route_localnet"
    with open(path, "r+", encoding="ascii") as setting:
        if setting.read().strip() != "1":
            setting.seek(0)
            setting.write("1")
    return name


UDP = 17  # IP protocol number


def forget_udp_flows(mark: int, keep: set[str]) -> int:
    """Delete the conntrack entries, in this namespace, of UDP flows marked ``mark`` whose replies come
    from an address not in ``keep`` (tasks that left the rotation); returns how many. The kernel filters
    the dump by mark and protocol: pyroute2 decodes entries slowly, holding the GIL, and a busy mesh
    has thousands of TCP entries."""
    conntrack = Conntrack()
    try:
        udp = NFCTAttrTuple(family=socket.AF_INET, proto=UDP)
        stale = [entry.tuple_orig for entry in conntrack.dump_entries(mark=mark, tuple_orig=udp)
                 if entry.tuple_orig.proto == UDP and entry.tuple_reply.saddr not in keep]
        for orig in stale:
            conntrack.entry("del", tuple_orig=orig)
        return len(stale)
    finally:
        conntrack.close()
