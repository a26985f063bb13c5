"""``shoal swarm``: init, join, join-token, leave, update, inspect, info."""

from __future__ import annotations

import json
import pathlib
import shutil
import socket
import sys
import time

import click

from actors.cli import engineapi
from actors.cli.client import CliError, ControlClient, call_endpoint, load_host, signing_keys
from actors.common.durations import parse_duration
from actors.common import autolock as autolock_module
from actors.common import datakey, heartbeat, joining, supervisor, unlocking, webconfig
from actors.common.hostconfig import DEFAULT_PORT, LOCKED_MESSAGE, HostConfig, ManagerAddress
from actors.controlapi import tokens
from actors.network import ipam, objects
from transport import codec, keys, limits, model, schema

PORTS_PER_HOST = limits.HOST_PORT_SPAN
START_TIMEOUT = 60.0  # a loaded host takes 20 s and more only to start its actors (seen at load average 40)
LEAVE_TIMEOUT = 10.0


def parse_addr(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``ADDR[:PORT]`` -> (addr, port); click.BadParameter when malformed."""
    addr, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    try:
        number = int(port)
    except ValueError:
        raise click.BadParameter(f"invalid port in {text!r}") from None
    if not addr or not 1 <= number <= 65535 - PORTS_PER_HOST:
        raise click.BadParameter(f"invalid address {text!r}: use ADDR[:PORT]")
    try:
        model.address(addr, "address")
    except model.Invalid as exc:
        raise click.BadParameter(str(exc)) from None
    return addr, number


def busy_port(addr: str, base: int) -> int | None:
    """The first port of the PORTS_PER_HOST from ``base`` on ``addr`` that is taken, or None."""
    for port in range(base, base + PORTS_PER_HOST):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ZeroMQ binds
            try:
                probe.bind((addr, port))
            except OSError:
                return port
    return None


def metrics_options(command):
    """``--metrics-addr`` and ``--metrics-web-config``, the options of init and join that say how the host's
    actors serve their metrics (checked by :func:`metrics_settings`)."""
    command = click.option("--metrics-web-config", type=click.Path(dir_okay=False, path_type=pathlib.Path),
                           default=None, help="Prometheus web configuration file (TLS, basic auth) the metrics "
                                              "endpoints apply.")(command)
    return click.option("--metrics-addr", default="127.0.0.1", show_default=True,
                        help="Address the actors serve their Prometheus metrics on (this host's advertise address "
                             "lets one Prometheus scrape the cluster).")(command)


def metrics_settings(metrics_addr: str, web_config: pathlib.Path | None, port: int) -> tuple[str, dict]:
    """host.json's ``metrics_web_config`` (the file's absolute path, or "") and the node's ``Shoal.Metrics`` for
    the metrics options; CliError naming the option when the address or the file cannot be used, or when a
    metrics port from base ``port`` is taken on the address."""
    try:
        model.address(metrics_addr, "--metrics-addr")
    except model.Invalid as exc:
        raise CliError(str(exc)) from None
    if metrics_addr == "0.0.0.0":
        raise CliError("--metrics-addr must be an address Prometheus can reach this host on, not 0.0.0.0")
    try:
        config = webconfig.load(web_config)
    except webconfig.WebConfigError as exc:
        raise CliError(f"--metrics-web-config: {exc}") from None
    taken = busy_port(metrics_addr, port)
    if taken is not None:
        raise CliError(f"cannot listen on {metrics_addr}:{taken} (in use, or not an address of this host): the host "
                       f"serves metrics on ports up to {port + PORTS_PER_HOST - 1} of --metrics-addr")
    return (str(web_config.resolve()) if web_config else ""), {"addr": metrics_addr, "scheme": config.scheme}


def free_base(addr: str) -> int:
    """A base port whose whole block is free on ``addr``."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind((addr, 0))
            base = probe.getsockname()[1]
        if base + PORTS_PER_HOST < 65535 and busy_port(addr, base) is None:
            return base
    raise CliError(f"no free block of {PORTS_PER_HOST} ports on {addr}")


def refuse_if_member(state_dir: pathlib.Path) -> None:
    """CliError when ``state_dir`` already holds a host."""
    if (state_dir / "host.json").exists():
        raise CliError('this node is already part of a swarm. Use "shoal swarm leave" to leave this swarm and join another one.')


def address_pool_options(pools: tuple[str, ...], mask_length: int) -> dict:
    """The cluster's ``DefaultAddrPool`` and ``SubnetSize`` from ``swarm init``'s flags (Docker's defaults when
    none are given); click.BadParameter naming what is wrong."""
    pools = list(pools) or list(ipam.DEFAULT_ADDR_POOL)
    for text in pools:
        try:
            subnet = ipam.parse_subnet(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--default-addr-pool") from None
        if mask_length < subnet.prefixlen:
            raise click.BadParameter(f"{mask_length} is shorter than the prefix of address pool {text}: the pool "
                                     "cannot hold one subnet", param_hint="--default-addr-pool-mask-length")
    if not 1 <= mask_length <= ipam.SMALLEST_PREFIX:
        raise click.BadParameter(f"{mask_length} is out of range 1..{ipam.SMALLEST_PREFIX}",
                                 param_hint="--default-addr-pool-mask-length")
    overlap = next(((a, b) for i, a in enumerate(pools) for b in pools[i + 1:]
                    if ipam.parse_subnet(a).overlaps(ipam.parse_subnet(b))), None)
    if overlap:
        raise click.BadParameter(f"address pools {overlap[0]} and {overlap[1]} overlap", param_hint="--default-addr-pool")
    return {"DefaultAddrPool": pools, "SubnetSize": mask_length}


def _bootstrap_ops(cluster_id: str, node_id: str, addr: str, port: int, host: keys.KeyPair, admin: keys.KeyPair,
                   address_pools: dict, sealed_unlock_key: dict | None, metrics: dict) -> list:
    key_hex = keys.public_to_hex(host.public)
    cluster = {"ID": cluster_id,
               "Spec": {"Name": "default", "Labels": {}, "Orchestration": {"TaskHistoryRetentionLimit": 5},
                        "Dispatcher": {"HeartbeatPeriod": heartbeat.DEFAULT_NS},
                        "EncryptionConfig": {"AutoLockManagers": sealed_unlock_key is not None}},
               "JoinTokens": {"Worker": tokens.make(key_hex), "Manager": tokens.make(key_hex)},
               "Shoal": {"AdminKeys": [admin.public_text], **({autolock_module.SEALED_FIELD: sealed_unlock_key}
                                                              if sealed_unlock_key else {})}, **address_pools}
    node = {"ID": node_id, "Spec": {"Role": "manager", "Availability": schema.ACTIVE, "Labels": {}},
            "Description": {"Hostname": socket.gethostname()},
            "Status": {"State": schema.NODE_UNKNOWN, "Addr": addr},
            "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": f"{addr}:{port}"},
            "Shoal": {"PublicKey": host.public_text, "Endpoints": {"addr": addr, "port": port}, "Metrics": metrics}}
    return [{"op": "create", "table": "cluster", "object": cluster}, {"op": "create", "table": "nodes", "object": node},
            {"op": "create", "table": "networks", "object": objects.ingress_network(schema.new_id())}]


def _became_ready(state_dir: pathlib.Path) -> bool:
    """Wait up to START_TIMEOUT until the host's node shows ready (the whole pipeline answers); whether it did."""
    deadline = time.monotonic() + START_TIMEOUT
    client = ControlClient(state_dir)
    while time.monotonic() < deadline:
        try:
            if client.call("node_inspect", {"ref": client.host.node_id}, timeout=1.0)["Status"]["State"] == "ready":
                return True
        except CliError:
            pass
        time.sleep(0.2)
    return False


def _wait_ready(state_dir: pathlib.Path) -> None:
    """Wait until the host's node shows ready; CliError when it does not within START_TIMEOUT."""
    if not _became_ready(state_dir):
        raise CliError(f"the host did not become ready within {START_TIMEOUT:g}s: see {state_dir / 'logs'}")


def _unlock_key_text(key: str) -> str:
    """What Docker prints with an unlock key."""
    return ("To unlock a swarm manager after it restarts, run the `shoal swarm unlock`\n"
            "command and provide the following key:\n\n"
            f"    {key}\n\n"
            "Please remember to store this key in a password manager, since without it you\n"
            "will not be able to restart the manager.")


def _send_unlock_key(host: HostConfig, text: str) -> None:
    """Give unlock key ``text`` to the locked shoald of ``host``; CliError (``invalid key``) when refused."""
    call_endpoint(unlocking.endpoint(host), signing_keys(host), host.host_keys().public, unlocking.KIND,
                  {"key": text}, what="the locked shoald")


def _unlock_after_start(host: HostConfig, text: str) -> None:
    """Unlock the shoald just started for ``host`` (autolocked from its first start) once it listens."""
    deadline = time.monotonic() + START_TIMEOUT
    while not host.is_locked:
        if time.monotonic() > deadline:
            raise CliError(f"shoald did not start within {START_TIMEOUT:g}s: see {host.state_dir / 'logs'}")
        time.sleep(0.05)
    _send_unlock_key(host, text)


# Docker's --autolock takes an optional value: --autolock, --autolock=true, --autolock=false.
autolock_option = click.option("--autolock", type=click.BOOL, is_flag=False, flag_value=True, default=None,
                               metavar="[=true|false]",
                               help="Change manager autolocking setting (true|false); the unlock key is printed.")


@click.group()
def swarm() -> None:
    """Manage the swarm."""


@swarm.command("init")
@click.option("--advertise-addr", default=f"127.0.0.1:{DEFAULT_PORT}", show_default=True, help="ADDR[:PORT] to listen and advertise on.")
@click.option("--force-new-cluster", is_flag=True, help="Force create a new cluster from current state (disaster recovery on a manager).")
@click.option("--default-addr-pool", "addr_pools", multiple=True, metavar="CIDR",
              help="Default address pool for networks without a subnet (repeatable; default 10.0.0.0/8).")
@click.option("--default-addr-pool-mask-length", "mask_length", type=int, default=ipam.DEFAULT_SUBNET_SIZE,
              show_default=True, help="Prefix length of the subnets taken from the default address pool.")
@click.option("--autolock", type=click.BOOL, is_flag=False, flag_value=True, default=False, metavar="[=true|false]",
              help="Enable manager autolocking (requiring an unlock key to start a stopped manager).")
@metrics_options
@click.option("--engine-api-addr", metavar="IPV4[:PORT]", default=None,
              help="Also serve the Docker Engine API there, on TCP with mutual TLS (see 'shoal engine-api').")
@click.pass_obj
def init(state_dir: pathlib.Path, advertise_addr: str, force_new_cluster: bool, addr_pools: tuple[str, ...],
         mask_length: int, autolock: bool, engine_api_addr: str | None, metrics_addr: str, metrics_web_config: pathlib.Path | None) -> None:
    """Initialize a swarm: this host becomes its first manager (and a worker)."""
    if force_new_cluster:
        if autolock:
            raise click.UsageError("--autolock cannot be used with --force-new-cluster: use 'swarm update --autolock'")
        if engine_api_addr:
            raise click.UsageError("--engine-api-addr cannot be used with --force-new-cluster: use 'shoal engine-api enable'")
        _force_new_cluster(state_dir)
        return
    refuse_if_member(state_dir)
    address_pools = address_pool_options(addr_pools, mask_length)
    addr, port = parse_addr(advertise_addr)
    taken = busy_port(addr, port)
    if taken is not None:
        raise CliError(f"port {addr}:{taken} is in use: a manager needs ports {port}-{port + PORTS_PER_HOST - 1}")
    web_config, metrics = metrics_settings(metrics_addr, metrics_web_config, port)
    engine_api = engineapi.parse_tcp_addr(engine_api_addr) if engine_api_addr else None
    if engine_api:
        engineapi.refuse_unbindable(*engine_api)
    host, admin = keys.generate(), keys.generate()
    keys.save(state_dir / "keys", "host", host)
    keys.save(state_dir / "keys", "admin", admin)
    node_id, cluster_id = schema.new_id(), schema.new_id()
    data_key, unlock_key = datakey.new(), autolock_module.new_key() if autolock else None
    if unlock_key:  # the data key is never on disk but wrapped by the unlock key
        datakey.wrap_with_unlock_key(state_dir, cluster_id, data_key, autolock_module.wrapping_key(unlock_key))
    else:
        datakey.store_with_kek(state_dir, cluster_id, data_key)
    sealed = autolock_module.seal_key(cluster_id, data_key, unlock_key) if unlock_key else None
    (state_dir / "bootstrap.msgpack").write_bytes(codec.encode({"ops": _bootstrap_ops(
        cluster_id, node_id, addr, port, host, admin, address_pools, sealed, metrics)}))
    config = HostConfig(state_dir, "manager", node_id, cluster_id, addr, port, socket.gethostname(),
                        [ManagerAddress(node_id, addr, port, host.public_text)], [node_id],
                        metrics_addr=metrics_addr, metrics_web_config=web_config)
    config.save()
    if engine_api:
        engineapi.turn_on(config, *engine_api)
    supervisor.spawn_daemon(state_dir)
    if unlock_key:
        _unlock_after_start(config, autolock_module.show(unlock_key))
    _wait_ready(state_dir)
    if engine_api:
        engineapi.wait_listening(state_dir, *engine_api)
    token = ControlClient(state_dir).call("join_token", {"role": "worker"})["token"]
    click.echo(f"Swarm initialized: current node ({node_id}) is now a manager.\n\n"
               f"To add a worker to this swarm, run the following command:\n\n"
               f"    shoal swarm join --token {token} {addr}:{port}\n")
    if unlock_key:
        click.echo(_unlock_key_text(autolock_module.show(unlock_key)))


def _force_new_cluster(state_dir: pathlib.Path) -> None:
    """Restart this manager as the only member of a new cluster that keeps the committed state."""
    from actors.raft import recovery  # only this rare command needs Raft storage
    from actors.raft.storage import RaftStorage

    host = load_host(state_dir)
    if not host.is_manager:
        raise CliError("--force-new-cluster needs a manager's state: this node is a worker")
    if host.is_locked:
        raise CliError(LOCKED_MESSAGE)
    if not supervisor.stop_daemon(state_dir):
        raise CliError(f"shoald of {state_dir} did not stop within its deadline")
    storage = RaftStorage(host.path("raft", "raft.db"))
    try:
        index, demoted = recovery.force_new_cluster(storage, host.node_id)
    finally:
        storage.close()
    host.managers = [manager for manager in host.managers if manager.node_id == host.node_id]
    host.initial_voters = [host.node_id]
    host.save()
    supervisor.spawn_daemon(state_dir)
    _wait_ready(state_dir)
    click.echo(f"Swarm initialized from the state at index {index}: current node ({host.node_id}) is now the only manager.")
    if demoted:
        click.echo(f"Former managers now listed as workers: {', '.join(demoted)}. Join or promote managers to restore fault tolerance.")


@swarm.command("join")
@click.option("--token", required=True, help="Token for entry into the swarm (a worker or a manager token).")
@click.option("--listen-addr", "--advertise-addr", "listen_addr", default=None,
              help="ADDR[:PORT] this host listens and is reached on (default: a free block of ports on 127.0.0.1).")
@click.argument("remote")
@metrics_options
@click.pass_obj
def join(state_dir: pathlib.Path, token: str, listen_addr: str | None, remote: str, metrics_addr: str,
         metrics_web_config: pathlib.Path | None) -> None:
    """Join a swarm as a worker or, with a manager token, as a manager."""
    refuse_if_member(state_dir)
    try:
        key_hex, _ = tokens.parse(token)
    except tokens.BadToken as exc:
        raise CliError(str(exc)) from None
    remote_addr, remote_port = parse_addr(remote)
    addr, port = parse_addr(listen_addr) if listen_addr else ("127.0.0.1", free_base("127.0.0.1"))
    taken = busy_port(addr, port)
    if taken is not None:
        raise CliError(f"port {addr}:{taken} is in use: a host needs ports {port}-{port + PORTS_PER_HOST - 1}")
    web_config, metrics = metrics_settings(metrics_addr, metrics_web_config, port)
    host = keys.generate()
    reply = call_endpoint(f"tcp://{remote_addr}:{remote_port}", host, keys.public_from_hex(key_hex), "join",
                          joining.join_request(token, host, socket.gethostname(), addr, port, metrics),
                          what="the manager")
    try:
        role = joining.save_joined(state_dir, reply, host, addr, port, socket.gethostname(), metrics_addr,
                                   web_config).role
    except datakey.DataKeyError as exc:
        raise CliError(str(exc)) from None
    supervisor.spawn_daemon(state_dir)
    if role == "manager":
        _wait_ready(state_dir)
    click.echo(f"This node joined a swarm as a {role}.")


@swarm.command("join-token")
@click.option("-q", "--quiet", is_flag=True, help="Only display token.")
@click.option("--rotate", is_flag=True, help="Rotate join token.")
@click.argument("role", type=click.Choice(["worker", "manager"]))
@click.pass_obj
def join_token(state_dir: pathlib.Path, quiet: bool, rotate: bool, role: str) -> None:
    """Manage join tokens."""
    reply = ControlClient(state_dir).call("join_token", {"role": role, "rotate": rotate})
    if quiet:
        click.echo(reply["token"])
        return
    if rotate:
        click.echo(f"Successfully rotated {role} join token.\n")
    click.echo(f"To add a {role} to this swarm, run the following command:\n\n"
               f"    shoal swarm join --token {reply['token']} {reply['addr']}\n")


@swarm.command("leave")
@click.option("-f", "--force", is_flag=True, help="Force this node to leave the swarm, ignoring warnings.")
@click.pass_obj
def leave(state_dir: pathlib.Path, force: bool) -> None:
    """Leave the swarm: stop this host's actors and remove its containers and state."""
    host = load_host(state_dir)
    if host.is_manager and not force:
        raise CliError("You are attempting to leave the swarm on a node that is participating as a manager. "
                       "Removing the last manager erases all current state of the swarm. Use --force to ignore this message.")
    if host.is_manager and not host.is_locked:  # a locked manager cannot reach Raft: it just goes (--force)
        _leave_raft(state_dir)
        host = load_host(state_dir)  # a worker now, unless it was the last manager
    if not host.is_manager:
        manager = host.managers[0]
        try:
            call_endpoint(manager.endpoint("join"), host.host_keys(), manager.public_key.encode(), "leave",
                          {"node_id": host.node_id}, timeout=3.0, what="the manager")
        except CliError as exc:
            if not force:
                raise CliError(f"{exc.message} (use --force to leave anyway)") from None
    if not supervisor.stop_daemon(state_dir):
        raise CliError(f"shoald of {state_dir} did not stop within its deadline")
    _remove_containers(host.node_id)
    _remove_task_files(host.node_id)
    _remove_networks(host.cluster_id)
    for entry in state_dir.iterdir():
        if entry.name != "logs":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    click.echo("Node left the swarm.")


def _leave_raft(state_dir: pathlib.Path) -> None:
    """Ask the cluster to drop this manager from Raft and wait (bounded) until it has, when other managers remain.

    Once removed, this host's own member no longer follows the cluster and cannot answer reads, so the
    wait watches host.json instead: the executor switches the host to worker when another manager's
    dispatcher reports the removal.
    """
    client = ControlClient(state_dir)
    me = client.host.node_id
    try:
        others = [n for n in client.call("node_ls", timeout=3.0) if n["ID"] != me and n.get("ManagerStatus")]
        if not others:
            return
        client.call("leave", {"node_id": me, "force": True}, timeout=5.0)
    except CliError as exc:
        click.echo(f"warning: could not leave Raft cleanly: {exc.message}", err=True)
        return
    deadline = time.monotonic() + LEAVE_TIMEOUT
    while time.monotonic() < deadline:
        if not HostConfig.load(state_dir).is_manager:
            return
        time.sleep(0.2)
    click.echo(f"warning: this manager was not removed from Raft within {LEAVE_TIMEOUT:g}s", err=True)


def _remove_containers(node_id: str) -> None:
    import docker  # the Docker SDK takes 170 ms to import; only leave needs it

    try:
        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": f"shoal.node.id={node_id}"}):
            container.remove(force=True)
    except docker.errors.DockerException as exc:
        click.echo(f"warning: could not remove this node's containers: {exc}", err=True)


def _remove_task_files(node_id: str) -> None:
    """Unmount the tmpfs holding the secret and config files of this node's tasks, which its executor, stopped
    while they were still running, could not drop: the data must not stay on the host."""
    from actors.executor.tmpfs import TaskTmpfs  # ctypes and libc: only leave needs them

    try:
        TaskTmpfs(node_id).drop_all()
    except OSError as exc:
        click.echo(f"warning: could not unmount this node's task files: {exc}", err=True)


def _remove_networks(cluster_id: str) -> None:
    """Remove the engine's bridge networks of the cluster that no container holds any more (those of other
    hosts of the cluster on the same engine stay: the engine refuses to remove a network in use, and a host
    whose network was removed makes it again). A network left behind would hold its subnet on the engine."""
    import docker  # as in _remove_containers: only leave needs the Docker SDK

    from actors.network.bridges import LABEL_CLUSTER

    try:
        client = docker.from_env()
        for network in client.networks.list(filters={"label": f"{LABEL_CLUSTER}={cluster_id}"}):
            try:
                network.remove()
            except docker.errors.APIError as exc:
                if exc.status_code != 403:  # 403: it has active endpoints, another host's containers
                    raise
    except docker.errors.DockerException as exc:
        click.echo(f"warning: could not remove this node's networks: {exc}", err=True)


def _heartbeat_ns(context, param, text: str | None) -> int | None:
    """``--dispatcher-heartbeat``'s duration in nanoseconds, within the period's bounds."""
    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    refusal = heartbeat.refusal(value)
    if refusal:
        raise click.BadParameter(refusal)
    return value


@swarm.command("update")
@click.option("--dispatcher-heartbeat", callback=_heartbeat_ns, default=None,
              help="Dispatcher heartbeat period (ns|us|ms|s|m|h), e.g. 5s.")
@click.option("--task-history-limit", type=click.IntRange(0, limits.LIST_ITEMS), default=None,
              help="Task history retention limit.")
@autolock_option
@click.pass_obj
def update(state_dir: pathlib.Path, dispatcher_heartbeat: int | None, task_history_limit: int | None,
           autolock: bool | None) -> None:
    """Update the swarm."""
    if dispatcher_heartbeat is None and task_history_limit is None and autolock is None:
        raise click.UsageError("nothing to update: use --dispatcher-heartbeat, --task-history-limit or --autolock")
    client = ControlClient(state_dir)
    was_locked = autolock and schema.get_path(client.call("swarm_inspect"), autolock_module.ENABLED_PATH)
    client.call("swarm_update", {"dispatcher_heartbeat": dispatcher_heartbeat,
                                 "task_history_limit": task_history_limit, "autolock": autolock})
    click.echo("Swarm updated.")
    if autolock and not was_locked:  # as Docker: the key is shown when autolock is turned on
        click.echo(_unlock_key_text(client.call("unlock_key")["key"]))


@swarm.command("unlock")
@click.pass_obj
def unlock(state_dir: pathlib.Path) -> None:
    """Unlock swarm: give a locked manager its unlock key (asked for on a terminal, else read from stdin).
    As Docker's, returns once the manager serves again, so the next command works."""
    host = load_host(state_dir)
    if not host.is_manager:
        raise CliError("This node is not a swarm manager.")
    if not host.is_locked:
        raise CliError("swarm is not locked")
    if sys.stdin.isatty():
        text = click.prompt("Enter unlock key", hide_input=True, prompt_suffix=": ", default="", show_default=False)
    else:
        text = sys.stdin.readline()
    _send_unlock_key(host, text.strip())
    if not _became_ready(state_dir):  # the key was taken: not a failure, but the next command may be refused
        click.echo(f"Swarm unlocked, but this manager is not ready after {START_TIMEOUT:g}s: it needs a majority "
                   f"of the managers unlocked and running (see {state_dir / 'logs'})", err=True)


@swarm.command("unlock-key")
@click.option("-q", "--quiet", is_flag=True, help="Only display token.")
@click.option("--rotate", is_flag=True, help="Rotate unlock key.")
@click.pass_obj
def unlock_key(state_dir: pathlib.Path, quiet: bool, rotate: bool) -> None:
    """Manage the unlock key."""
    key = ControlClient(state_dir).call("unlock_key", {"rotate": rotate})["key"]
    if quiet:
        click.echo(key)
        return
    if rotate:
        click.echo("Successfully rotated manager unlock key.\n")
    click.echo(_unlock_key_text(key))


@swarm.command("inspect")
@click.pass_obj
def inspect(state_dir: pathlib.Path) -> None:
    """Display the swarm's cluster object (its spec included) as JSON."""
    click.echo(json.dumps([ControlClient(state_dir).call("swarm_inspect")], indent=4))


@swarm.command("info")
@click.pass_obj
def info(state_dir: pathlib.Path) -> None:
    """Show the swarm's state as JSON."""
    click.echo(json.dumps(ControlClient(state_dir).call("info"), indent=4))
