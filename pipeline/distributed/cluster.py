"""Joining Ray: `--ray auto` starts a local instance, `--ray HOST:PORT` joins a cluster.

Nothing here imports Ray until `connect` is called, so runs without `--ray`
never load it. Every task and actor gets its CPU share as TensorFlow's thread
count (`TF_NUM_INTRAOP_THREADS`): two workers with default thread pools on two
cores thrash. The `pipeline` package travels with the job (`py_modules`), so
nodes need only the same Python packages, not this checkout.

Artifacts and caches must be on a path every node sees (one machine, or a
shared file system such as NFS): cache shards and run folders appear in one
rename, and the writer lock is taken by the driver only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pipeline
from pipeline.environment import CODE_VERSION_ENV, git_commit
from pipeline.errors import PipelineError

LOCAL = "auto"
CONNECT_TIMEOUT_S = 10.0
# A task whose worker dies (killed, node lost) is run again; training resumes from
# its last epoch checkpoint, extraction from the cache shards already written.
TASK_RETRIES = 3


@dataclass(frozen=True)
class Cluster:
    """A connected Ray cluster as the study sees it."""

    address: str
    cpus: int
    gpus: int
    nodes: int
    node_cpus: int  # CPUs of the largest node: a training task asks for this many
    node_gpus: int = 0  # GPUs of the largest node: likewise (MirroredStrategy across them)

    def record(self) -> dict:
        return {
            "address": self.address,
            "nodes": self.nodes,
            "cpus": self.cpus,
            "gpus": self.gpus,
            "task_cpus": self.node_cpus,
            "task_gpus": self.node_gpus,
        }

    def describe(self) -> str:
        gpus = f", {self.gpus} GPU(s)" if self.gpus else ""
        where = "a local Ray instance" if self.address == LOCAL else f"Ray at {self.address}"
        return f"{where}: {self.nodes} node(s), {self.cpus} CPU(s){gpus}"


def import_ray():
    try:
        import ray
    except ImportError:
        raise PipelineError(
            "--ray needs Ray, which is not installed: pip install 'petcompare[ray]' "
            "(or pip install -r requirements-ray.txt)"
        ) from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail in seconds, in plain words, when the head cannot be reached (Ray itself
    retries for a long time)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise PipelineError(f"--ray wants 'auto' or HOST:PORT of a Ray head; got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as err:
        raise PipelineError(
            f"cannot reach the Ray head at {address}: {err.strerror or err}. "
            "Is `ray start --head` running there, and is the port open?"
        ) from None


def thread_env(cpus: float) -> dict[str, str]:
    """Environment that caps TensorFlow (and OpenMP) to `cpus` cores."""
    n = str(max(1, int(cpus)))
    return {"TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n, "OMP_NUM_THREADS": n}


def remote_args(cpus: float, gpus: float = 0) -> dict:
    """Resource request and thread caps for a task or an actor."""
    env = thread_env(cpus) | {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    args: dict = {"num_cpus": cpus, "runtime_env": {"env_vars": env}}
    if gpus:
        args["num_gpus"] = gpus
    return args


def _job_runtime_env() -> dict:

    env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    commit = git_commit()
    if commit:  # the copy of `pipeline` shipped to the workers has no .git
        env[CODE_VERSION_ENV] = commit
    return {"py_modules": [os.path.dirname(pipeline.__file__)], "env_vars": env}


def _describe(ray, address: str) -> Cluster:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    # A training task asks for what one real node has: the node with the most GPUs,
    # then the most CPUs (CPUs of one node and GPUs of another fit no node).
    sizes = [(int(n["Resources"].get("GPU", 0)), int(n["Resources"].get("CPU", 0))) for n in nodes]
    node_gpus, node_cpus = max(sizes, default=(0, 1))
    total = ray.cluster_resources()
    return Cluster(
        address=address,
        cpus=int(total.get("CPU", 0)),
        gpus=int(total.get("GPU", 0)),
        nodes=len(nodes),
        node_cpus=max(1, node_cpus),
        node_gpus=node_gpus,
    )


@contextlib.contextmanager
def connect(address: str, num_cpus: int | None = None) -> Iterator[Cluster]:
    """Start (`auto`) or join (`HOST:PORT`) Ray for the length of the block."""
    ray = import_ray()
    if address != LOCAL:
        _check_reachable(address)
    options = dict(
        runtime_env=_job_runtime_env(),
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=True,
    )
    try:
        if address == LOCAL:  # Ray counts the cores itself, container limits included
            ray.init(address="local", num_cpus=num_cpus, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = "start a local Ray instance" if address == LOCAL else f"join Ray at {address}"
        raise PipelineError(f"could not {where}: {err}") from None
    _quiet_ray_data()
    try:
        yield _describe(ray, address)
    finally:
        ray.shutdown()


def _quiet_ray_data() -> None:
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    with contextlib.suppress(AttributeError):
        context.enable_operator_progress_bars = False


@contextlib.contextmanager
def maybe_connect(address: str | None) -> Iterator[Cluster | None]:
    """`connect(address)` when an address is given; otherwise nothing (Ray not imported)."""
    if not address:
        yield None
        return
    with connect(address) as cluster:
        yield cluster


def unwrap(err: BaseException) -> BaseException:
    """The exception a remote task raised, without Ray's wrapper (for a plain message);
    a failure of Ray itself (a worker or node lost for good, out of memory) as a
    PipelineError that says what failed."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return PipelineError(
        f"the Ray cluster failed ({type(err).__name__}: {first}); finished models and "
        "cached photos are kept: run the same command again to resume"
    )
