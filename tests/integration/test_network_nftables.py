"""The load-balancing plane (actors/network/loadbalancer.py) on the real kernel, in namespaces this test makes.

No Docker: a namespace ``host`` plays a Shoal host's namespace (a bridge
holding its ingress address, forwarding on, as dockerd leaves it), two
namespaces play task containers on that bridge (a Python server answering
TCP and UDP with its name and the address the connection came from), one a
client container on the bridge, one a client outside the host, joined to it
by a veth pair. The plane runs in a process inside ``host``, as the executor
does on a host, and the test looks at what clients get.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from actors.network import meshlock

REPO = pathlib.Path(__file__).resolve().parents[2]
PREFIX = f"snft{os.getpid() % 100000}"
INGRESS, BACK = "ingress-net", "back-net"
NODE = "node-1"
SERVER = """
import socket, sys, threading
name = sys.argv[1]
def tcp(port):
    listener = socket.create_server(("0.0.0.0", port))
    while True:
        conn, peer = listener.accept()
        with conn:
            conn.sendall(f"{name} {peer[0]}".encode())
def udp(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        data, peer = sock.recvfrom(100)
        sock.sendto(f"{name} {peer[0]}".encode(), peer)
threading.Thread(target=udp, args=(53,), daemon=True).start()
threading.Thread(target=tcp, args=(81,), daemon=True).start()
print("ready", flush=True)
tcp(80)
"""
CLIENT = """
import socket, sys
protocol, address, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for _ in range(count):
    try:
        if protocol == "tcp":
            with socket.create_connection((address, port), timeout=2) as conn:
                print(conn.recv(100).decode())
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(2)
                sock.sendto(b"?", (address, port))
                print(sock.recvfrom(100)[0].decode())
    except OSError as exc:
        print(type(exc).__name__)
"""
APPLY = """
import json, sys
from actors.network import loadbalancer, meshlock
pids, states, lock_dir = json.loads(sys.stdin.read())
plane = loadbalancer.LoadBalancer("c1", "node-1", lambda: pids, meshlock.NamespaceLock("c1", lock_dir))
for state in states:
    plane.apply(state)
"""


def sh(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=check)


def in_ns(ns, *argv):
    return ["nsenter", f"--net=/var/run/netns/{ns}", "--", *argv]


def ns_name(role):
    return f"{PREFIX}{role}"


def link(ns, peer_ns, name, address, peer_address, bridge=None):
    """A veth pair ``name`` (in ``ns``, with ``address``) to ``peer_ns`` (enslaved to ``bridge``, or with
    ``peer_address``)."""
    sh("ip", "link", "add", name, "netns", ns_name(ns), "type", "veth", "peer", "name", name + "p",
       "netns", ns_name(peer_ns))
    for cidr in address:
        sh(*in_ns(ns_name(ns), "ip", "addr", "add", cidr, "dev", name))
    sh(*in_ns(ns_name(ns), "ip", "link", "set", name, "up"))
    if bridge:
        sh(*in_ns(ns_name(peer_ns), "ip", "link", "set", name + "p", "master", bridge))
    if peer_address:
        sh(*in_ns(ns_name(peer_ns), "ip", "addr", "add", peer_address, "dev", name + "p"))
    sh(*in_ns(ns_name(peer_ns), "ip", "link", "set", name + "p", "up"))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    roles = ("host", "t1", "t2", "cv", "out")
    servers = []
    try:
        for role in roles:
            sh("ip", "netns", "add", ns_name(role))
            sh(*in_ns(ns_name(role), "ip", "link", "set", "lo", "up"))
        host = ns_name("host")
        sh(*in_ns(host, "ip", "link", "add", "ingress0", "type", "bridge"))
        sh(*in_ns(host, "ip", "addr", "add", "10.250.0.3/24", "dev", "ingress0"))
        sh(*in_ns(host, "ip", "addr", "add", "10.250.1.3/24", "dev", "ingress0"))
        sh(*in_ns(host, "ip", "link", "set", "ingress0", "up"))
        sh(*in_ns(host, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
        link("t1", "host", "eth0", ["10.250.0.5/24", "10.250.1.5/24"], None, bridge="ingress0")
        link("t2", "host", "eth1", ["10.250.0.6/24", "10.250.1.6/24"], None, bridge="ingress0")
        link("cv", "host", "eth2", ["10.250.1.9/24"], None, bridge="ingress0")
        link("out", "host", "eth3", ["10.251.0.2/30"], "10.251.0.1/30")
        for role in ("t1", "t2"):
            server = subprocess.Popen(in_ns(ns_name(role), sys.executable, "-c", SERVER, role),
                                      stdout=subprocess.PIPE, text=True)
            servers.append(server)
            assert server.stdout.readline().strip() == "ready"
        container = subprocess.Popen(in_ns(ns_name("cv"), "sleep", "600"))
        servers.append(container)
        yield {"lock_dir": str(tmp_path_factory.mktemp("locks")), "client_pid": container.pid}
    finally:
        for process in servers:
            process.kill()
            process.wait()
        for role in roles:
            sh("ip", "netns", "del", ns_name(role), check=False)


def task(task_id, addresses, ready=True, node="node-2"):
    return {"ID": task_id, "Slot": 1, "NodeID": node, "Ready": ready, "Addresses": addresses}


def state(ready=("t1", "t2"), node_address="10.250.0.3/24"):
    backends = [task(name, {INGRESS: f"10.250.0.{5 + i}/24", BACK: f"10.250.1.{5 + i}/24"}, ready=name in ready)
                for i, name in enumerate(("t1", "t2"))]
    client = task("cv", {BACK: "10.250.1.9/24"}, node=NODE)
    networks = [{"ID": INGRESS, "Name": "ingress", "Subnet": "10.250.0.0/24", "Ingress": True,
                 "NodeAddress": node_address},
                {"ID": BACK, "Name": "back", "Subnet": "10.250.1.0/24", "Ingress": False,
                 "NodeAddress": "10.250.1.3/24"}]
    services = [{"ID": "web", "Name": "web", "EndpointMode": "vip",
                 "Networks": {INGRESS: {"VIP": "10.250.0.2"}, BACK: {"VIP": "10.250.1.2"}},
                 "Ports": [{"Protocol": "tcp", "PublishedPort": 8080, "TargetPort": 80},
                           {"Protocol": "udp", "PublishedPort": 8080, "TargetPort": 53}],
                 "Tasks": backends},
                {"ID": "client", "Name": "client", "EndpointMode": "dnsrr", "Networks": {BACK: {"VIP": None}},
                 "Ports": [], "Tasks": [client]}]
    return {"Networks": networks, "Services": services}


def apply(hosts, *states):
    """Run the plane inside the host namespace on ``states``, one after another."""
    payload = json.dumps([{"cv": hosts["client_pid"]}, list(states), hosts["lock_dir"]])
    result = subprocess.run(in_ns(ns_name("host"), sys.executable, "-c", APPLY), input=payload, text=True,
                            capture_output=True, timeout=30, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr


def ask(role, protocol, address, port, count=4):
    result = sh(*in_ns(ns_name(role), sys.executable, "-c", CLIENT, protocol, address, str(port), str(count)))
    return result.stdout.split("\n")[:-1]


def test_a_published_port_answers_on_the_hosts_addresses_and_localhost_from_every_ready_task(hosts):
    apply(hosts, state())
    assert ask("host", "tcp", "127.0.0.1", 8080) == ["t1 10.250.0.3", "t2 10.250.0.3"] * 2
    assert sorted(ask("out", "tcp", "10.251.0.1", 8080)) == ["t1 10.250.0.3", "t1 10.250.0.3",
                                                             "t2 10.250.0.3", "t2 10.250.0.3"]
    assert sorted(ask("out", "udp", "10.251.0.1", 8080, 2)) == ["t1 10.250.0.3", "t2 10.250.0.3"]
    assert sorted(ask("host", "udp", "127.0.0.1", 8080, 2)) == ["t1 10.250.0.3", "t2 10.250.0.3"]
    assert ask("out", "tcp", "10.251.0.1", 8081, 1) == ["ConnectionRefusedError"]  # not published


def test_a_task_that_is_not_ready_leaves_the_mesh_and_the_vip(hosts):
    apply(hosts, state(), state(ready=("t2",)))
    assert ask("out", "tcp", "10.251.0.1", 8080) == ["t2 10.250.0.3"] * 4
    assert ask("cv", "tcp", "10.250.1.2", 80, 2) == ["t2 10.250.1.9"] * 2
    apply(hosts, state(ready=()))
    assert ask("out", "tcp", "10.251.0.1", 8080, 1) == ["ConnectionRefusedError"]
    started = time.monotonic()
    assert ask("cv", "tcp", "10.250.1.2", 80, 1) == ["ConnectionRefusedError"]
    assert time.monotonic() - started < 1.5  # refused at once, not left to time out


def test_a_vip_balances_inside_the_client_container_and_keeps_its_source(hosts):
    apply(hosts, state())
    assert sorted(ask("cv", "tcp", "10.250.1.2", 80)) == ["t1 10.250.1.9", "t1 10.250.1.9",
                                                          "t2 10.250.1.9", "t2 10.250.1.9"]
    assert sorted(ask("cv", "udp", "10.250.1.2", 53, 2)) == ["t1 10.250.1.9", "t2 10.250.1.9"]
    assert ask("cv", "tcp", "10.250.1.2", 81, 1)[0] in ("t1 10.250.1.9", "t2 10.250.1.9")  # every port


def test_one_host_per_namespace_and_cluster_owns_the_mesh_and_the_last_to_leave_says_so(tmp_path):
    first, second = meshlock.NamespaceLock("c1", str(tmp_path)), meshlock.NamespaceLock("c1", str(tmp_path))
    other = meshlock.NamespaceLock("c2", str(tmp_path))
    assert first.own() and first.own()
    assert not second.own()
    assert other.own()  # another cluster in the same namespace has its own mesh
    assert first.leave() == meshlock.Leaving(last_of_cluster=False, last_in_namespace=False)
    assert second.own()
    assert second.leave() == meshlock.Leaving(last_of_cluster=True, last_in_namespace=False)
    assert other.leave() == meshlock.Leaving(last_of_cluster=True, last_in_namespace=True)


def test_a_cluster_with_a_host_left_is_not_abandoned(tmp_path):
    host = meshlock.NamespaceLock("c1", str(tmp_path))
    ran = []
    assert not meshlock.if_abandoned("c1", lambda: ran.append("c1"), str(tmp_path))
    host.leave()
    assert meshlock.if_abandoned("c1", lambda: ran.append("c1"), str(tmp_path))
    assert meshlock.if_abandoned("never-seen", lambda: ran.append("never-seen"), str(tmp_path))
    assert ran == ["c1", "never-seen"]


def test_the_owner_removes_the_mesh_table_of_a_cluster_whose_hosts_were_killed(hosts):
    host = ns_name("host")
    sh(*in_ns(host, "nft", "add", "table", "ip", "shoal_mesh_killedcluster"))
    apply(hosts, state())
    listed = sh(*in_ns(host, "nft", "list", "tables")).stdout
    assert "shoal_mesh_killedcluster" not in listed and "shoal_mesh_c1" in listed


def test_a_dead_owners_mesh_is_taken_over(tmp_path):
    held = subprocess.Popen([sys.executable, "-c", "import sys, time; from actors.network import meshlock; "
                             "lock = meshlock.NamespaceLock('c1', sys.argv[1]); print(lock.own(), flush=True); "
                             "time.sleep(60)", str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert held.stdout.readline().strip() == "True"
        waiting = meshlock.NamespaceLock("c1", str(tmp_path))
        assert not waiting.own()
        held.kill()
        held.wait()
        assert waiting.own()
    finally:
        held.kill()
        held.wait()


def test_a_udp_flow_to_a_task_that_left_is_balanced_afresh_from_the_same_client_port(hosts):
    apply(hosts, state())
    client = subprocess.Popen(in_ns(ns_name("out"), sys.executable, "-c", UDP_SAME_PORT), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        first = client.stdout.readline().split()[0]
        remaining = "t2" if first == "t1" else "t1"
        apply(hosts, state(ready=(remaining,)))
        client.stdin.write("again\n")
        client.stdin.flush()
        assert client.stdout.readline().split()[0] == remaining
    finally:
        client.kill()
        client.wait()


UDP_SAME_PORT = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2)
for _ in range(2):
    sock.sendto(b"?", ("10.251.0.1", 8080))
    try:
        print(sock.recvfrom(100)[0].decode(), flush=True)
    except OSError as exc:
        print(type(exc).__name__, flush=True)
    sys.stdin.readline()
"""
