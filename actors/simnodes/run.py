"""The simulated-nodes process: ``bin/shoal-simnodes``.

It joins the nodes the state directory lacks (hosts.py), then runs one real
executor (actors/executor/actor.py) per node, each with its node's key pair,
its own CURVE connection to a dispatcher and its own session, heartbeats and
assignment set, over a simulated engine (actors/executor/simengine.py) in
place of Docker. All of them share one asyncio loop and one ZeroMQ context.
The managers see N ordinary worker nodes; killing this process is N nodes
lost at once. The process serves its executors' metrics (one set for all
nodes) on the executor metrics port of its address block.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import signal
import time

import click
import prometheus_client
import zmq.asyncio

from actors.cli.swarm import free_base, parse_addr
from actors.common import files
from actors.common.actor import ActorContext
from actors.common.backoff import Backoff
from actors.common.hostconfig import HostConfig
from actors.common.log import Logger
from actors.executor.actor import Executor
from actors.executor.simengine import SimEngine
from actors.simnodes import hosts
from transport import auth
from transport.rpccall import RpcError

STAGGER_SECONDS = 0.005  # between two nodes' starts, so a thousand sessions do not open in the same instant


def parser() -> argparse.ArgumentParser:
    """The command line of ``shoal-simnodes``."""
    parse = argparse.ArgumentParser(prog="shoal-simnodes", description="Join and run N simulated worker nodes "
                                    "(real identities and sessions, in-memory containers) in one process.")
    parse.add_argument("--state-dir", type=pathlib.Path, required=True,
                       help="where the nodes' identities live (DIR/nodes/NNNN); reused on the next start")
    parse.add_argument("--join", nargs=2, metavar=("TOKEN", "ADDR[:PORT]"),
                       help="a worker join token and a manager's address, to join the nodes DIR lacks")
    parse.add_argument("--count", type=int, required=True, help="how many nodes to run")
    parse.add_argument("--start-delay", type=float, default=0.1,
                       help="seconds a simulated container takes to start (default 0.1)")
    parse.add_argument("--listen-addr", default="127.0.0.1",
                       help="the address the nodes say they are reached at (default 127.0.0.1)")
    return parse


def nodes_for(args, log: Logger) -> list[HostConfig]:
    """The ``--count`` nodes to run: those of the state directory, plus new ones joined with ``--join``."""
    existing = hosts.joined(args.state_dir)
    if len(existing) >= args.count:
        return existing[:args.count]
    if not args.join:
        raise SystemExit(f"Error: {args.state_dir} holds {len(existing)} nodes; --join TOKEN ADDR joins the "
                         f"{args.count - len(existing)} more asked for")
    token, remote = args.join
    addr, port = (existing[0].addr, existing[0].port) if existing else (args.listen_addr, free_base(args.listen_addr))
    try:
        return hosts.join_nodes(args.state_dir, token, parse_addr(remote), args.count, addr, port, log)
    except (RpcError, click.ClickException) as exc:
        raise SystemExit(f"Error: cannot join: {exc}") from None


async def serve(nodes: list[HostConfig], start_delay: float) -> None:
    """Run an executor over a SimEngine for every node in ``nodes`` until cancelled."""
    context = zmq.asyncio.Context()
    runs: list[asyncio.Future] = []
    try:
        for config in nodes:
            actor = ActorContext("executor", config, config.host_keys(), context, auth.DomainPolicy(),
                                 Logger(f"executor/{config.hostname}"))
            engine = SimEngine(config.node_id, config.hostname, start_delay)
            runs.append(asyncio.ensure_future(supervised(actor, engine)))
            await asyncio.sleep(STAGGER_SECONDS)
        await asyncio.gather(*runs)
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        context.destroy(linger=0)


async def supervised(actor: ActorContext, engine: SimEngine) -> None:
    """Run the node's executor over ``engine``, starting a new one after a crash as a host's supervisor
    restarts its executor process (same back-off); the engine, like Docker, keeps the containers."""
    backoff = Backoff()
    while True:
        started = time.monotonic()
        try:
            await Executor(actor, engine).run()
        except Exception as exc:  # one node's executor crashing must not take the other nodes down
            actor.log.error("crashed", node=actor.config.node_id, error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(backoff.delay_after_exit(time.monotonic() - started))


async def _until_signalled(nodes: list[HostConfig], start_delay: float) -> None:
    task = asyncio.ensure_future(serve(nodes, start_delay))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Join what is missing, then run the nodes until SIGTERM or SIGINT; returns the exit code."""
    args = parser().parse_args(argv)
    if args.count < 1 or args.start_delay < 0:
        raise SystemExit("Error: --count must be at least 1 and --start-delay at least 0")
    log = Logger("simnodes")
    files.private_files()
    nodes = nodes_for(args, log)
    try:
        prometheus_client.start_http_server(nodes[0].metrics_port("executor"), addr="127.0.0.1")
    except OSError as exc:  # the nodes still run; only their metrics are not served
        log.warning("cannot serve metrics", port=nodes[0].metrics_port("executor"), error=str(exc))
    log.info("running simulated nodes", count=len(nodes), start_delay=args.start_delay)
    asyncio.run(_until_signalled(nodes, args.start_delay))
    log.info("stopped", count=len(nodes))
    return 0
