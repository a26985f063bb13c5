"""The host's DNS server (actors/network/dnsserver.py) on real UDP and TCP sockets, on loopback: the
subnet 127.77.0.0/16 stands for a network, the server listens on its "node address" and queries leave
from the queriers' own addresses on it, as a task's would."""

import socket
import struct

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from actors.network import dnsserver
from tests.integration.cluster import free_base_port

NODE = "127.77.0.1"
CLIENT = "127.77.0.10"


def state(node_address=NODE, db_tasks=2):
    network = {"ID": "net", "Name": "h4net", "VNI": 4097, "Subnet": "127.77.0.0/16", "Gateway": "127.77.0.254",
               "Internal": False, "Ingress": False, "Attachable": False, "NodeAddress": node_address + "/16",
               "Peers": []}
    client = {"ID": "client", "Name": "client", "EndpointMode": "vip", "Ports": [],
              "Networks": {"net": {"Aliases": [], "VIP": "127.77.0.3/16"}},
              "Tasks": [{"ID": "c1", "Slot": 1, "NodeID": "n1", "Ready": True, "Addresses": {"net": CLIENT}}]}
    db = {"ID": "db", "Name": "db", "EndpointMode": "dnsrr", "Ports": [],
          "Networks": {"net": {"Aliases": [], "VIP": None}},
          "Tasks": [{"ID": f"d{index}", "Slot": index, "NodeID": "n1", "Ready": True,
                     "Addresses": {"net": f"127.77.1.{index}/16"}} for index in range(db_tasks)]}
    return {"Networks": [network], "Services": [client, db]}


@pytest.fixture
def server():
    port = free_base_port()
    the_server = dnsserver.DnsServer(port=port)
    the_server.start()
    try:
        yield the_server, port
    finally:
        the_server.stop()


def udp(name, port, server_address=NODE, source=CLIENT):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.bind((source, 0))
        query = DNSRecord.question(name)
        sock.sendto(query.pack(), (server_address, port))
        return DNSRecord.parse(sock.recv(65535))


def tcp(name, port, server_address=NODE, source=CLIENT):
    with socket.create_connection((server_address, port), timeout=2, source_address=(source, 0)) as sock:
        packet = DNSRecord.question(name).pack()
        sock.sendall(struct.pack("!H", len(packet)) + packet)
        size = struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))[0]
        return DNSRecord.parse(sock.recv(size, socket.MSG_WAITALL))


def addresses(reply):
    return sorted(str(record.rdata) for record in reply.rr if record.rtype == QTYPE.A)


def test_names_resolve_over_udp_and_tcp_from_a_task_on_the_network(server):
    the_server, port = server
    the_server.apply(state())
    assert the_server.addresses == [NODE]
    assert addresses(udp("client", port)) == ["127.77.0.3"]
    assert addresses(tcp("tasks.db", port)) == ["127.77.1.0", "127.77.1.1"]
    assert udp("example.com", port).header.rcode == RCODE.REFUSED


def test_a_new_state_is_answered_from_as_soon_as_apply_returns(server):
    the_server, port = server
    the_server.apply(state(db_tasks=2))
    assert len(udp("db", port).rr) == 2
    the_server.apply(state(db_tasks=3))
    assert len(udp("db", port).rr) == 3


def test_a_cut_udp_reply_is_whole_over_tcp(server):
    the_server, port = server
    the_server.apply(state(db_tasks=60))
    cut = udp("db", port)
    assert cut.header.tc == 1 and len(cut.rr) < 60
    whole = tcp("db", port)
    assert whole.header.tc == 0 and len(whole.rr) == 60


def test_the_server_moves_with_the_node_address(server):
    the_server, port = server
    the_server.apply(state())
    the_server.apply(state(node_address="127.77.0.2"))
    assert the_server.addresses == ["127.77.0.2"]
    assert addresses(udp("client", port, server_address="127.77.0.2")) == ["127.77.0.3"]
    with pytest.raises(ConnectionRefusedError):
        tcp("client", port, server_address=NODE)


def test_an_address_not_yet_on_the_host_is_listened_on_ahead(server):
    the_server, port = server
    the_server.apply(state(node_address="192.0.2.77"))  # TEST-NET-1: on no interface here
    assert the_server.addresses == ["192.0.2.77"]


def test_a_port_taken_fails_apply_loudly_while_the_names_are_in_force(server):
    the_server, port = server
    the_server.apply(state())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.77.0.2", port))
        with pytest.raises(OSError, match="127.77.0.2"):
            the_server.apply(state(node_address="127.77.0.2", db_tasks=3))
    assert the_server.addresses == []
    the_server.apply(state(db_tasks=3))
    assert len(udp("db", port).rr) == 3


def test_stop_closes_every_socket():
    port = free_base_port()
    the_server = dnsserver.DnsServer(port=port)
    the_server.start()
    the_server.apply(state())
    the_server.stop()
    with pytest.raises(ConnectionRefusedError):
        tcp("client", port)
