"""swarm init --default-addr-pool / --default-addr-pool-mask-length (actors/cli/swarm.py address_pool_options)."""

import click
import pytest

from actors.cli.swarm import address_pool_options
from transport import model


def test_docker_defaults_when_no_flag_is_given():
    assert address_pool_options((), 24) == {"DefaultAddrPool": ["10.0.0.0/8"], "SubnetSize": 24}


def test_several_pools_are_kept_in_order_and_pass_the_model():
    options = address_pool_options(("10.20.0.0/16", "192.168.0.0/20"), 26)
    assert options == {"DefaultAddrPool": ["10.20.0.0/16", "192.168.0.0/20"], "SubnetSize": 26}
    model.TABLE_CHECKS["cluster"]({"ID": "c", **options}, "")


@pytest.mark.parametrize("pools, size, message", [
    (("10.0.0.5/8",), 24, "host bits are set (did you mean 10.0.0.0/8?)"),
    (("10.0.0.0/24",), 16, "16 is shorter than the prefix of address pool 10.0.0.0/24"),
    (("10.0.0.0/8",), 31, "31 is out of range 1..30"),
    (("10.0.0.0/8", "10.1.0.0/16"), 24, "address pools 10.0.0.0/8 and 10.1.0.0/16 overlap"),
    (("fd00::/8",), 24, "only IPv4"),
])
def test_bad_pools_are_refused_naming_the_flag(pools, size, message):
    with pytest.raises(click.BadParameter) as raised:
        address_pool_options(pools, size)
    assert message in raised.value.format_message()
