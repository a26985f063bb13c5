"""Service discovery answers (actors/network/dns.py): queries built and replies read with dnslib, on
host network states written by hand in the contract's shape."""

import random

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSRecord

from actors.network import dns

FRONT = {"ID": "front", "Name": "front", "VNI": 4097, "Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1",
         "Internal": False, "Ingress": False, "Attachable": False, "NodeAddress": "10.0.1.3/24", "Peers": []}
BACK = {**FRONT, "ID": "back", "Name": "back", "VNI": 4098, "Subnet": "10.0.2.0/24", "Gateway": "10.0.2.1",
        "NodeAddress": "10.0.2.3/24"}
INGRESS = {**FRONT, "ID": "ingress-id", "Name": "ingress", "VNI": 4096, "Subnet": "10.0.0.0/24",
           "Gateway": "10.0.0.1", "Ingress": True, "NodeAddress": "10.0.0.3/24"}


def task(task_id, addresses, ready=True):
    return {"ID": task_id, "Slot": 1, "NodeID": "n1", "Ready": ready, "Addresses": addresses}


def service(name, networks, tasks, mode="vip"):
    return {"ID": name + "-id", "Name": name, "EndpointMode": mode, "Networks": networks, "Ports": [],
            "Tasks": tasks}


# client: a task on front only; api: vip on front and back, alias "gateway" on front; db: dnsrr on back
# only; web publishes a port on ingress.
STATE = {
    "Networks": [FRONT, BACK, INGRESS],
    "Services": [
        service("client", {"front": {"Aliases": [], "VIP": "10.0.1.2/24"}},
                [task("c1", {"front": "10.0.1.10/24"})]),
        service("api", {"front": {"Aliases": ["gateway"], "VIP": "10.0.1.4/24"},
                        "back": {"Aliases": [], "VIP": "10.0.2.4/24"}},
                [task("a1", {"front": "10.0.1.20/24", "back": "10.0.2.20/24"}),
                 task("a2", {"front": "10.0.1.21/24", "back": "10.0.2.21/24"}),
                 task("a3", {"front": "10.0.1.22/24", "back": "10.0.2.22/24"}, ready=False)]),
        service("db", {"back": {"Aliases": ["store"], "VIP": None}},
                [task("d1", {"back": "10.0.2.30/24"}), task("d2", {"back": "10.0.2.31/24"}),
                 task("d3", {"back": "10.0.2.32/24"}, ready=False)], mode="dnsrr"),
        service("web", {"ingress-id": {"Aliases": [], "VIP": "10.0.0.5/24"}},
                [task("w1", {"ingress-id": "10.0.0.40/24"})]),
    ],
}


def ask(name, querier, local="10.0.1.3", qtype="A", transport="udp", state=STATE, edns=None, seed=0):
    query = DNSRecord.question(name, qtype)
    if edns:
        query.add_ar(EDNS0(udp_len=edns))
    packed = dns.respond(dns.Directory(state), query.pack(), querier, local, transport, random.Random(seed))
    reply = DNSRecord.parse(packed)
    assert reply.header.id == query.header.id and reply.header.qr == 1
    return reply, packed


def addresses(reply):
    return sorted(str(record.rdata) for record in reply.rr if record.rtype == QTYPE.A)


def test_a_vip_service_name_resolves_to_its_vip_authoritatively_and_uncached():
    reply, _ = ask("api", "10.0.1.10")
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
    assert addresses(reply) == ["10.0.1.4"]
    assert [record.ttl for record in reply.rr] == [0]


def test_an_alias_resolves_like_the_name_on_the_network_it_is_given_on():
    assert addresses(ask("gateway", "10.0.1.10")[0]) == ["10.0.1.4"]
    assert addresses(ask("tasks.gateway", "10.0.1.10")[0]) == ["10.0.1.20", "10.0.1.21"]


def test_tasks_name_resolves_to_the_ready_tasks_only():
    assert addresses(ask("tasks.api", "10.0.1.10")[0]) == ["10.0.1.20", "10.0.1.21"]


def test_a_dnsrr_service_resolves_to_its_ready_tasks_and_so_do_its_aliases():
    for name in ("db", "store", "tasks.db"):
        reply, _ = ask(name, "10.0.2.20", local="10.0.2.3")
        assert addresses(reply) == ["10.0.2.30", "10.0.2.31"], name


def test_names_are_matched_without_case_and_with_or_without_the_final_dot():
    assert addresses(ask("API.", "10.0.1.10")[0]) == ["10.0.1.4"]
    assert addresses(ask("Tasks.Api", "10.0.1.10")[0]) == ["10.0.1.20", "10.0.1.21"]


def test_a_tasks_own_name_resolves_to_its_address_and_back_ready_or_not():
    assert addresses(ask("api.1.a1", "10.0.1.10")[0]) == ["10.0.1.20"]
    assert addresses(ask("api.1.a3", "10.0.1.10")[0]) == ["10.0.1.22"]  # starting: its name is already there
    reply, _ = ask("20.1.0.10.in-addr.arpa", "10.0.1.10", qtype="PTR")
    assert reply.header.aa == 1 and [str(record.rdata) for record in reply.rr] == ["api.1.a1.front."]
    assert ask("20.1.0.10.in-addr.arpa", "10.0.1.10", qtype="A")[0].rr == []
    global_task = {"Networks": [FRONT], "Services": [service("agent", {"front": {"Aliases": [], "VIP": None}}, [
        {"ID": "g1", "Slot": 0, "NodeID": "node7", "Ready": True, "Addresses": {"front": "10.0.1.60"}}])]}
    assert addresses(ask("agent.node7.g1", "10.0.1.60", state=global_task)[0]) == ["10.0.1.60"]


def test_reverse_names_outside_the_queriers_networks_are_refused():
    for reverse in ("30.2.0.10.in-addr.arpa", "99.1.0.10.in-addr.arpa", "1.0.0.127.in-addr.arpa"):
        assert ask(reverse, "10.0.1.10", qtype="PTR")[0].header.rcode == RCODE.REFUSED, reverse


def test_a_service_on_another_network_is_not_seen_and_the_name_is_refused():
    reply, _ = ask("db", "10.0.1.10")
    assert reply.header.rcode == RCODE.REFUSED and reply.header.aa == 0 and not reply.rr


def test_a_task_on_two_networks_gets_the_vip_of_the_network_it_asked_on_and_sees_both():
    assert addresses(ask("api", "10.0.1.20", local="10.0.1.3")[0]) == ["10.0.1.4"]
    assert addresses(ask("api", "10.0.2.20", local="10.0.2.3")[0]) == ["10.0.2.4"]
    # asking on front, a task of api still sees db, which is on back only
    assert addresses(ask("db", "10.0.1.20", local="10.0.1.3")[0]) == ["10.0.2.30", "10.0.2.31"]


def test_an_unknown_querier_inside_the_subnet_it_asks_on_sees_that_network_only():
    assert addresses(ask("api", "10.0.2.99", local="10.0.2.3")[0]) == ["10.0.2.4"]
    assert ask("client", "10.0.2.99", local="10.0.2.3")[0].header.rcode == RCODE.REFUSED


def test_a_querier_from_outside_every_network_is_refused():
    assert ask("api", "192.168.7.7")[0].header.rcode == RCODE.REFUSED
    assert ask("api", "127.0.0.1", local="10.0.1.3")[0].header.rcode == RCODE.REFUSED


def test_the_ingress_network_has_no_names_and_is_not_listened_on():
    assert ask("web", "10.0.1.10")[0].header.rcode == RCODE.REFUSED
    assert ask("web", "10.0.0.40", local="10.0.0.3")[0].header.rcode == RCODE.REFUSED
    assert dns.Directory(STATE).listen_addresses == ["10.0.1.3", "10.0.2.3"]


def test_names_outside_the_cluster_are_refused_so_the_next_server_is_asked():
    for name in ("example.com", "tasks.", "api.example.com", "tasks.nothing"):
        reply, _ = ask(name, "10.0.1.10")
        assert reply.header.rcode == RCODE.REFUSED and not reply.rr, name


def test_other_types_of_a_cluster_name_get_an_empty_authoritative_answer():
    for qtype in ("AAAA", "MX", "TXT", "SRV"):
        reply, _ = ask("api", "10.0.1.10", qtype=qtype)
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1 and not reply.rr, qtype
    assert addresses(ask("api", "10.0.1.10", qtype="ANY")[0]) == ["10.0.1.4"]


def test_a_name_with_no_ready_task_is_known_but_empty():
    state = {"Networks": [FRONT], "Services": [
        service("client", {"front": {"Aliases": [], "VIP": "10.0.1.2/24"}}, [task("c1", {"front": "10.0.1.10"})]),
        service("idle", {"front": {"Aliases": [], "VIP": None}}, [task("i1", {"front": "10.0.1.50"}, ready=False)],
                mode="dnsrr")]}
    for name in ("idle", "tasks.idle", "tasks.client"):
        reply, _ = ask(name, "10.0.1.10", state=state)
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1, name
    assert not ask("idle", "10.0.1.10", state=state)[0].rr
    assert addresses(ask("tasks.client", "10.0.1.10", state=state)[0]) == ["10.0.1.10"]


def many_tasks_state(count):
    tasks = [task(f"t{index}", {"front": f"10.0.1.{100 + index}"}) for index in range(count)]
    return {"Networks": [FRONT], "Services": [service("big", {"front": {"Aliases": [], "VIP": None}}, tasks,
                                                       mode="dnsrr")]}


def test_over_udp_a_reply_too_large_for_512_bytes_is_cut_and_says_so():
    state = many_tasks_state(60)
    reply, packed = ask("big", "10.0.1.100", state=state)
    assert len(packed) <= 512 and reply.header.tc == 1 and 0 < len(reply.rr) < 60


def test_over_tcp_or_with_an_edns0_size_the_whole_answer_is_sent():
    state = many_tasks_state(60)
    for transport, edns in (("tcp", None), ("udp", 4096)):
        reply, packed = ask("big", "10.0.1.100", state=state, transport=transport, edns=edns)
        assert reply.header.tc == 0 and len(reply.rr) == 60, transport


def test_answers_are_shuffled_so_clients_taking_the_first_spread_over_tasks():
    state = many_tasks_state(5)
    firsts = {str(ask("big", "10.0.1.100", state=state, seed=seed)[0].rr[0].rdata) for seed in range(40)}
    assert len(firsts) > 1


def test_what_is_not_a_query_gets_no_reply_or_the_error_it_earns():
    directory = dns.Directory(STATE)
    rng = random.Random(0)
    assert dns.respond(directory, b"garbage", "10.0.1.10", "10.0.1.3", "udp", rng) is None
    response = DNSRecord.question("api").reply().pack()
    assert dns.respond(directory, response, "10.0.1.10", "10.0.1.3", "udp", rng) is None
    update = DNSRecord.question("api")
    update.header.opcode = OPCODE.UPDATE
    reply = DNSRecord.parse(dns.respond(directory, update.pack(), "10.0.1.10", "10.0.1.3", "udp", rng))
    assert reply.header.rcode == RCODE.NOTIMP
    two = DNSRecord.question("api")
    two.add_question(*DNSRecord.question("db").questions)
    reply = DNSRecord.parse(dns.respond(directory, two.pack(), "10.0.1.10", "10.0.1.3", "udp", rng))
    assert reply.header.rcode == RCODE.FORMERR


def test_a_task_is_told_the_hosts_address_on_its_first_network_with_names():
    assert dns.nameserver(STATE, ["front", "back"]) == "10.0.1.3"
    assert dns.nameserver(STATE, ["ingress-id", "back"]) == "10.0.2.3"
    assert dns.nameserver(STATE, ["ingress-id"]) is None
    assert dns.nameserver(STATE, []) is None


def test_a_container_gets_the_hosts_server_then_the_others_it_can_reach_three_at_most():
    others = dns.resolv_conf_nameservers("# host\nsearch corp\nnameserver 127.0.0.53\nnameserver 10.9.9.9\n"
                                         "nameserver 10.9.9.9\nnameserver fe80::1%eth0\nnameserver 10.8.8.8\n"
                                         "nameserver 10.7.7.7\n")
    assert others == ["127.0.0.53", "10.9.9.9", "10.9.9.9", "fe80::1%eth0", "10.8.8.8", "10.7.7.7"]
    assert dns.container_nameservers(STATE, ["front"], others) == ["10.0.1.3", "10.9.9.9", "10.8.8.8"]
    assert dns.container_nameservers(STATE, ["back"], []) == ["10.0.2.3"]
    assert dns.container_nameservers(STATE, ["ingress-id"], others) == []
