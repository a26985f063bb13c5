"""IP address management (actors/network/ipam.py): subnets, addresses, VXLAN ids."""

import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from actors.network import ipam


# -- parsing ----------------------------------------------------------------

@pytest.mark.parametrize("text, why", [("10.0.1.0", "host bits"), ("10.0.1.5/24", "did you mean 10.0.1.0/24"),
                                       ("fd00::/64", "only IPv4"), ("10.0.1.0/31", "/30 or larger"),
                                       ("nonsense", "IPv4 CIDR")])
def test_a_malformed_subnet_is_refused_saying_why(text, why):
    with pytest.raises(ValueError, match=why.replace("/", "/").replace(".", r"\.")):
        ipam.parse_subnet(text)


def test_a_gateway_must_be_a_host_address_of_its_subnet():
    subnet = ipam.parse_subnet("10.0.1.0/24")
    assert str(ipam.parse_gateway("10.0.1.254", subnet)) == "10.0.1.254"
    for text in ("10.0.2.1", "10.0.1.0", "10.0.1.255"):
        with pytest.raises(ValueError, match="not a host address"):
            ipam.parse_gateway(text, subnet)


# -- subnets ----------------------------------------------------------------

def nets(*texts):
    return [ipaddress.IPv4Network(text) for text in texts]


def test_the_first_free_subnet_of_the_pool_is_taken():
    assert str(ipam.next_subnet(["10.0.0.0/8"], 24, [])) == "10.0.0.0/24"
    assert str(ipam.next_subnet(["10.0.0.0/8"], 24, nets("10.0.0.0/24"))) == "10.0.1.0/24"
    assert str(ipam.next_subnet(["10.0.0.0/8"], 24, nets("10.0.0.0/24", "10.0.2.0/24"))) == "10.0.1.0/24"


def test_a_larger_subnet_in_the_way_is_skipped_whole():
    assert str(ipam.next_subnet(["10.0.0.0/8"], 24, nets("10.0.0.0/16"))) == "10.1.0.0/24"
    assert str(ipam.next_subnet(["10.0.0.0/8"], 16, nets("10.0.3.0/24"))) == "10.1.0.0/16"


def test_the_next_pool_serves_when_the_first_is_full_and_then_none_is_left():
    assert str(ipam.next_subnet(["10.0.0.0/23", "192.168.0.0/24"], 24, nets("10.0.0.0/24", "10.0.1.0/24"))) \
        == "192.168.0.0/24"
    with pytest.raises(ipam.Exhausted, match="no free /24 subnet left"):
        ipam.next_subnet(["10.0.0.0/23"], 24, nets("10.0.0.0/23"))


def test_a_pool_smaller_than_the_subnet_size_holds_none():
    with pytest.raises(ipam.Exhausted):
        ipam.next_subnet(["10.0.0.0/25"], 24, [])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(16, 28)), max_size=12), st.integers(18, 25))
def test_property_the_subnet_given_overlaps_nothing_taken_and_is_the_first_such(taken_specs, size):
    taken = [ipaddress.IPv4Network((int(ipaddress.IPv4Address("10.0.0.0")) + (third << 8), prefix), strict=False)
             for third, prefix in taken_specs]
    candidates = list(ipaddress.IPv4Network("10.0.0.0/16").subnets(new_prefix=size))
    try:
        subnet = ipam.next_subnet(["10.0.0.0/16"], size, taken)
    except ipam.Exhausted:
        assert all(ipam.overlapping(candidate, taken) is not None for candidate in candidates)
        return
    assert subnet in candidates and ipam.overlapping(subnet, taken) is None
    assert all(ipam.overlapping(candidate, taken) is not None for candidate in candidates if candidate < subnet)


# -- VXLAN ids --------------------------------------------------------------

def test_vnis_are_the_lowest_free_from_4096():
    assert ipam.lowest_free_vni([]) == 4096
    assert ipam.lowest_free_vni([4096, 4098]) == 4097


# -- addresses --------------------------------------------------------------

def test_addresses_skip_the_gateway_and_carry_the_prefix():
    pool = ipam.AddressPool("10.0.1.0/24")
    assert str(pool.gateway) == "10.0.1.1"
    assert [pool.allocate() for _ in range(2)] == ["10.0.1.2/24", "10.0.1.3/24"]


def test_a_gateway_in_the_middle_is_never_handed_out():
    pool = ipam.AddressPool("10.0.1.0/29", "10.0.1.3")
    assert sorted(pool.allocate() for _ in range(pool.capacity())) == [
        "10.0.1.1/29", "10.0.1.2/29", "10.0.1.4/29", "10.0.1.5/29", "10.0.1.6/29"]


def test_a_full_subnet_is_exhausted_until_an_address_is_released():
    pool = ipam.AddressPool("10.0.1.0/30")
    assert pool.capacity() == 1 and pool.allocate() == "10.0.1.2/30"
    with pytest.raises(ipam.Exhausted, match="no free address left in subnet 10.0.1.0/30"):
        pool.allocate()
    pool.release("10.0.1.2/30")
    assert pool.allocate() == "10.0.1.2/30"


def test_reuse_is_delayed_after_the_last_address_handed_out_wrapping_round():
    pool = ipam.AddressPool("10.0.1.0/29")  # hosts .1-.6, gateway .1
    first = [pool.allocate() for _ in range(3)]  # .2 .3 .4
    pool.release(first[0])
    assert pool.allocate() == "10.0.1.5/29"  # not .2, though it is free
    assert pool.allocate() == "10.0.1.6/29"
    assert pool.allocate() == "10.0.1.2/29"  # wrapped round


def test_claims_are_counted_so_a_duplicate_claim_does_not_free_early():
    pool = ipam.AddressPool("10.0.1.0/24")
    assert pool.claim("10.0.1.7/24") and pool.claim("10.0.1.7")
    pool.release("10.0.1.7")
    assert pool.holds("10.0.1.7")
    pool.release("10.0.1.7/24")
    assert not pool.holds("10.0.1.7")


@pytest.mark.parametrize("address", ["10.0.2.7/24", "10.0.1.1", "10.0.1.0", "10.0.1.255", "bogus"])
def test_addresses_the_subnet_does_not_hand_out_are_not_claimed(address):
    pool = ipam.AddressPool("10.0.1.0/24")
    assert not pool.claim(address) and len(pool) == 0


def test_clear_keeps_the_place_of_the_last_address():
    pool = ipam.AddressPool("10.0.1.0/24")
    pool.allocate()
    pool.clear()
    assert len(pool) == 0 and pool.allocate() == "10.0.1.3/24"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.just("allocate"), st.integers(0, 40)), max_size=80))
def test_property_addresses_held_are_distinct_hosts_and_exhaustion_means_full(steps):
    pool = ipam.AddressPool("10.0.1.0/27", "10.0.1.30")
    held: list[str] = []
    for step in steps:
        if step == "allocate":
            try:
                held.append(pool.allocate())
            except ipam.Exhausted:
                assert len(held) == pool.capacity() == 29
        elif held:
            pool.release(held.pop(step % len(held)))
        assert len(set(held)) == len(held) == len(pool)
        for address in held:
            host = ipaddress.IPv4Interface(address)
            assert host.network == pool.subnet and host.ip not in (pool.gateway, pool.subnet.network_address,
                                                                   pool.subnet.broadcast_address)
