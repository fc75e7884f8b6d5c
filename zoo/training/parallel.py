"""Training across processes: torch DistributedDataParallel (gloo on the CPU, nccl on CUDA).

``zoo train --nproc N`` is rank 0 itself and starts N-1 helper processes on this machine;
``torchrun -m zoo train ...`` (one machine or several) sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT, and each process joins from them. Every rank draws the step's whole
batch from ``batch_rng(seed, step)`` and trains on its share of it (rank r of W: patches
r*B/W to (r+1)*B/W); DDP averages the gradients, so a step's update is one process's update on the
whole batch. What a step sees, and ``--resume``, therefore do not depend on the process count.
Rank 0 validates and writes checkpoints, weights and card; a checkpoint reaches the other ranks
through the process group, so helper machines need the data but not the run's folder.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import socket
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from registry.errors import ZooError

TIMEOUT = datetime.timedelta(minutes=10)  # a rank that never arrives (killed, hung) ends the run


@dataclass(frozen=True)
class Group:
    """This process's place in the run: rank, world size, rank on this machine, how to meet."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    init_method: str = "env://"

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env() -> Group:
    """The group torchrun describes in the environment; one process (world 1) without it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Group()
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    return Group(rank, world, local, int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))


def check_batch(batch: int, world: int) -> None:
    """Refuse a batch the processes cannot share equally (their mean gradient would differ)."""
    if world > 1 and batch % world:
        raise ZooError(f"--batch {batch} does not split over {world} processes; use a multiple of {world}")


def join(group: Group, device: Any) -> None:
    """Enter the process group (gloo on the CPU, nccl on CUDA); nothing for a single process."""
    import torch.distributed as dist

    if group.world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, init_method=group.init_method, rank=group.rank, world_size=group.world,
                                timeout=TIMEOUT)


LEAVE_WAIT = datetime.timedelta(seconds=30)  # how long a rank waits for the others before leaving


def leave(group: Group) -> None:
    """Leave the process group. On gloo the ranks meet first (for at most LEAVE_WAIT; a rank that
    failed never comes): a helper that tore gloo down while rank 0 was still leaving was once
    aborted at exit ("terminate called without an active exception"), its work done."""
    import torch.distributed as dist

    if group.world > 1 and dist.is_initialized():
        if dist.get_backend() == "gloo":
            try:
                dist.monitored_barrier(timeout=LEAVE_WAIT)
            except RuntimeError:  # another rank failed or left early: leave anyway
                pass
        dist.destroy_process_group()


def shard(arrays: tuple[np.ndarray, ...], group: Group) -> tuple[np.ndarray, ...]:
    """This rank's equal share of a step's batch (along the first axis)."""
    if group.world == 1:
        return arrays
    part = len(arrays[0]) // group.world
    return tuple(a[group.rank * part:(group.rank + 1) * part] for a in arrays)


def wrap(module: Any, group: Group, device: Any) -> Any:
    """The module to train: DDP over ``module`` across the group (the module itself for one process)."""
    if group.world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[device.index or 0] if device.type == "cuda" else None)


def mean(value: float, group: Group) -> float:
    """The mean of ``value`` over the group's ranks (the loss shown is the whole batch's)."""
    if group.world == 1:
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor.item()) / group.world


def from_main(obj: Any, group: Group) -> Any:
    """Rank 0's ``obj`` on every rank (a resumed checkpoint, read where the run's folder is)."""
    if group.world == 1:
        return obj
    import torch.distributed as dist

    box = [obj if group.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


# -- zoo train --nproc N: this process and N-1 helpers on this machine


def start(nproc: int, target: Callable[..., Any], *args: Any) -> tuple[Group, list]:
    """Start ranks 1..nproc-1 as helper processes running ``target(*args, group=...)``; return
    rank 0's group (for this process) and the helpers, for :func:`stop`."""
    with socket.socket() as probe:  # a free port on the loopback for the group to meet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    method = f"tcp://127.0.0.1:{port}"
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold threads
    helpers = []
    for rank in range(1, nproc):
        process = context.Process(target=_helper, args=(target, args, Group(rank, nproc, rank, nproc, method)),
                                  daemon=True, name=f"zoo-train-rank{rank}")
        process.start()
        helpers.append(process)
    return Group(0, nproc, 0, nproc, method), helpers


def stop(helpers: list, failed: bool = False) -> None:
    """Wait for the helpers (they end with rank 0's last step); end them if rank 0 failed."""
    for process in helpers:
        process.join(timeout=5 if failed else 60)
        if process.is_alive():
            process.terminate()
            process.join()


def _helper(target: Callable[..., Any], args: tuple, group: Group) -> None:
    try:
        target(*args, group=group)
    except KeyboardInterrupt:  # Ctrl-C reaches every process; rank 0 writes the checkpoint
        pass
