"""`cloudrec node …`: start a Ray head or recorder node with cloudrec's settings, show the nodes, drain."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from typing import Annotated, Any

import typer

node_app = typer.Typer(
    help="Recorder nodes of a cluster (cluster mode; needs pip install 'cloudrec[cluster]').",
    no_args_is_help=True,
)

# A drained node's recordings get this long to finish on SIGTERM before the node stops anyway.
DRAIN_TIMEOUT_S = 3600.0

AddressOpt = Annotated[
    str,
    typer.Option(
        "--address", help="the Ray head's GCS address HOST:PORT (default CLOUDREC_RAY_ADDRESS, or 'auto')"
    ),
]


def _connect(address: str) -> str:
    """Join the cluster as a driver; its GCS address."""
    import logging

    import ray

    if not ray.is_initialized():
        ray.init(
            address=address or os.environ.get("CLOUDREC_RAY_ADDRESS") or "auto",
            namespace=os.environ.get("CLOUDREC_RAY_NAMESPACE", "cloudrec"),
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    return str(ray.get_runtime_context().gcs_address)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def _ray_binary() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "ray")  # the one of cloudrec's environment
    return beside if os.path.exists(beside) else (shutil.which("ray") or "ray")


@node_app.command("start")
def start(
    head: Annotated[
        bool, typer.Option("--head", help="start the head (GCS; runs no recordings by default)")
    ] = False,
    address: Annotated[
        str, typer.Option("--address", help="join the head at HOST:PORT as a recorder node")
    ] = "",
    port: Annotated[int, typer.Option(help="--head: the GCS port")] = 6379,
    capacity: Annotated[
        int | None,
        typer.Option(
            min=0, help="cloudrec_slot units this node offers (default: 6 per core; see cluster/cost.py)"
        ),
    ] = None,
    redis_address: Annotated[
        str,
        typer.Option("--redis-address", help="--head: Redis HOST:PORT for the GCS's state (fault tolerance)"),
    ] = "",
    drain_timeout: Annotated[
        float, typer.Option(help="on SIGTERM: seconds the node's recordings get to finish before it stops")
    ] = DRAIN_TIMEOUT_S,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the `ray start` command only")] = False,
) -> None:
    """Run `ray start --block` with cloudrec's resources and health checks. SIGTERM drains first: no new
    recordings come to the node, the running ones finish (up to --drain-timeout), then it stops."""
    from cloudrec.cluster import node

    if head == bool(address):
        raise typer.BadParameter("give either --head or --address HOST:PORT")
    raylet_port = _free_port()
    line = node.start_command(
        head=head, address=address, port=port, capacity=capacity, node_manager_port=raylet_port
    )
    cmd = [_ray_binary(), *line[1:]]
    if dry_run:
        typer.echo(" ".join(cmd))
        return
    proc = subprocess.Popen(cmd, env=node.start_env(redis_address))
    stopping = threading.Event()

    def on_term(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    while proc.poll() is None and not stopping.wait(0.5):
        pass
    if not stopping.is_set():
        raise typer.Exit(proc.wait())  # Ray stopped by itself
    if not head and proc.poll() is None:
        import ray

        gcs = _connect(address)
        node_id = node.node_of_port(raylet_port)
        if node_id is not None:
            node.drain(node_id, gcs, "cloudrec node: SIGTERM")
            typer.echo(f"node {node_id[:12]} draining: waiting for its recordings", err=True)
            node.wait_empty(node_id, drain_timeout)
            from cloudrec.cluster.spares import end_spare

            end_spare(node_id)  # the node is idle now: Ray's own stop need not wait for it
        ray.shutdown()
    if proc.poll() is None:
        proc.terminate()
    proc.wait()  # Ray's exit status after a stop it was asked for is no failure


@node_app.command("status")
def status(address: AddressOpt = "") -> None:
    """The recorder nodes: alive, capacity used and free (cloudrec_slot units), recordings on each."""
    from cloudrec.cluster import node

    _connect(address)
    typer.echo(f"{'node':14} {'address':22} {'alive':5} {'capacity':>8} {'used':>5} {'free':>5}  recordings")
    for n in node.cluster_state():
        typer.echo(
            f"{n.node_id[:12]:14} {n.address:22} {'yes' if n.alive else 'no':5} {n.capacity:8g} "
            f"{n.used:5g} {n.free:5g}  {len(n.recordings)} {' '.join(n.recordings)}".rstrip()
        )


@node_app.command("drain")
def drain(
    node_id: Annotated[str, typer.Option("--node-id", help="the node (as `node status` shows it, or whole)")],
    move: Annotated[
        bool, typer.Option("--move", help="move its recordings now (they go on elsewhere, a gap reported)")
    ] = False,
    wait: Annotated[bool, typer.Option(help="wait until the node runs no recording")] = True,
    timeout: Annotated[float, typer.Option(help="--wait: at most this many seconds")] = DRAIN_TIMEOUT_S,
    address: AddressOpt = "",
) -> None:
    """No new recordings on a node; its running ones finish there (default) or move (--move)."""
    from cloudrec.cluster import node

    gcs = _connect(address)
    matches = [n.node_id for n in node.cluster_state() if n.node_id.startswith(node_id)]
    if len(matches) != 1:
        raise typer.BadParameter(f"--node-id {node_id!r} names {len(matches)} recorder nodes")
    node.drain(matches[0], gcs)
    typer.echo(f"node {matches[0][:12]} draining")
    if move:
        moved = node.move_recordings(matches[0], os.environ.get("CLOUDREC_RAY_NAMESPACE", "cloudrec"))
        typer.echo(f"moving {len(moved)} recordings: {' '.join(moved)}".rstrip())
    if wait:
        if not node.wait_empty(matches[0], timeout):
            raise typer.Exit(1)
        typer.echo("no recording left on the node")
