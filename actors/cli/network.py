"""``shoal network``: create, ls, inspect, rm, prune (Docker's flags and output, overlay networks only)."""

from __future__ import annotations


import click

from actors.cli import listing
from actors.cli.client import ControlClient, each, remove_each
from actors.cli.flagvalues import key_value
from actors.common import filters

LS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
PRUNE_WARNING = "WARNING! This will remove all custom networks not used by at least one service.\nAre you sure you want to continue?"


@click.group()
def network() -> None:
    """Manage networks."""


def create_spec(name: str, driver: str, subnets: tuple[str, ...], gateways: tuple[str, ...], attachable: bool,
                internal: bool, ingress: bool, labels: tuple[str, ...]) -> dict:
    """The network ``Spec`` that ``network create``'s flags ask for; click.UsageError naming a bad flag."""
    if len(subnets) > 1 or len(gateways) > 1:
        raise click.UsageError("a network takes one --subnet and one --gateway")
    if gateways and not subnets:
        raise click.UsageError("--gateway needs --subnet")
    spec = {"Name": name, "Labels": {}, "DriverConfiguration": {"Name": driver, "Options": {}},
            "IPAMOptions": {"Driver": {"Name": "default"}},
            "Attachable": attachable, "Internal": internal, "Ingress": ingress}
    for text in labels:
        try:
            key, value = key_value(text)
        except ValueError as exc:
            raise click.UsageError(f'invalid argument "{text}" for "--label" flag: {exc}') from None
        spec["Labels"][key] = value
    if subnets:
        spec["IPAMOptions"]["Configs"] = [{"Subnet": subnets[0], **({"Gateway": gateways[0]} if gateways else {})}]
    return spec


@network.command("create")
@click.option("-d", "--driver", default="overlay", show_default=True, help="Driver to manage the Network (overlay).")
@click.option("--subnet", "subnets", multiple=True, metavar="CIDR", help="Subnet in CIDR format (default: from the pool).")
@click.option("--gateway", "gateways", multiple=True, metavar="IP", help="IPv4 gateway for the subnet.")
@click.option("--attachable", is_flag=True, help="Enable manual container attachment (refused: Shoal gives addresses to service tasks only).")
@click.option("--internal", is_flag=True, help="Restrict external access to the network.")
@click.option("--ingress", is_flag=True, help="Create swarm routing-mesh network (when none exists).")
@click.option("--label", "-l", "labels", multiple=True, help="Set metadata on a network (KEY=VALUE).")
@click.argument("name")
@click.pass_obj
def create(state_dir, driver, subnets, gateways, attachable, internal, ingress, labels, name) -> None:
    """Create a network."""
    spec = create_spec(name, driver, subnets, gateways, attachable, internal, ingress, labels)
    click.echo(ControlClient(state_dir).call("network_create", {"spec": spec})["ID"])


def network_row(network: dict) -> dict:
    """A ``network ls`` row (Docker's fields; every Shoal network is swarm-scoped)."""
    spec = network["Spec"]
    return {"ID": network["ID"][:12], "Name": spec["Name"], "Driver": (spec.get("DriverConfiguration") or {}).get("Name", ""),
            "Scope": "swarm", "Internal": spec.get("Internal", False), "Attachable": spec.get("Attachable", False),
            "Ingress": spec.get("Ingress", False), "Labels": ",".join(f"{k}={v}" for k, v in (spec.get("Labels") or {}).items())}


@network.command("ls")
@listing.list_options("Only display network IDs.")
@click.pass_obj
def ls(state_dir, quiet, output, filter_texts) -> None:
    """List networks."""
    wanted = listing.parsed_filters(filter_texts, filters.NETWORK_LS)
    networks = filters.keep(ControlClient(state_dir).call("network_ls"), wanted, filters.NETWORK_LS)
    rows = [network_row(n) for n in networks]
    listing.show(rows, [row["ID"] for row in rows], quiet, output, LS_FORMAT)


@network.command("inspect")
@click.option("-f", "--format", "output", default=None, help="Format the output using a Go-style template ({{.Spec.Name}}).")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def inspect(state_dir, output, refs) -> None:
    """Display detailed information on networks: with the services and tasks attached and their addresses."""
    client = ControlClient(state_dir)
    listing.show_inspected(*each(refs, lambda ref: client.call("network_inspect", {"ref": ref})), output)


@network.command("rm")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def rm(state_dir, refs) -> None:
    """Remove one or more networks (refused while a service uses one)."""
    remove_each(state_dir, "network_rm", refs)


@network.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_obj
def prune(state_dir, force) -> None:
    """Remove all networks no service uses (ingress is kept)."""
    if not force and not click.confirm(PRUNE_WARNING, default=False):
        return
    removed = ControlClient(state_dir).call("network_prune")["removed"]
    if removed:
        click.echo("Deleted Networks:\n" + "\n".join(removed))
