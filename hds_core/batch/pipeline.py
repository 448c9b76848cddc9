"""The batch on Ray Data: the studies not yet done become a dataset; reading them is a map of
tasks, analysing them a map over an actor class (``worker.StudyAnalyser``, the models loaded
once per worker, a GPU each where the cluster has them), each study's record written by the
worker that finished it. Ray is started on this machine (``ray.init()``), or joined at an
address (a cluster started with Ray's own ``ray start``). The only module that imports Ray."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from .manifest import StudyRow
from .worker import StudyAnalyser, read_study

READING_CPUS = 0.25  # a reading task's share of a CPU


def run_studies(
    studies: list[StudyRow],
    options: dict,
    *,
    address: str | None,
    workers: int,
    progress: Callable[[int, int, float, str], None],
) -> int:
    """Analyse ``studies`` with ``workers`` model actors; ``progress(done, total, seconds, label)``
    after each study. Returns how many studies finished."""
    import logging
    import os
    import warnings

    # Ray's own lines (progress, deprecations, its C++ core's notices) go to its logs under
    # /tmp/ray: the terminal gets ours, shorter.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    import ray
    import ray.data

    warnings.filterwarnings("ignore", module="ray")
    warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
    started = time.perf_counter()
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        # This machine only: no dashboard (a web server nobody asked for), quiet workers.
        ray.init(include_dashboard=False, log_to_driver=False)
    for name in ("ray", "ray.data", "ray._private", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.verbose_stats_logs = False
        resources = ray.cluster_resources()
        gpus = 1 if resources.get("GPU", 0) >= 1 else 0
        # Reading is light beside the network: the workers get the CPUs but a little, which the
        # reading tasks share (with a worker a CPU each, two workers on two cores starved them).
        worker_cpus = min(1.0, max(0.1, (resources.get("CPU", 1.0) - READING_CPUS * 2) / workers))
        # A study travels as JSON text: its rows differ in shape (their files), which Arrow's
        # columns would otherwise be made to share.
        items = [{"study": json.dumps(study.to_dict())} for study in studies]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(studies)))
        dataset = dataset.map(read_study, fn_kwargs={"options": options}, num_cpus=READING_CPUS)
        dataset = dataset.map_batches(
            StudyAnalyser,
            fn_constructor_kwargs={"options": options},
            batch_size=1,
            batch_format="default",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=worker_cpus,
            num_gpus=gpus,
            # A worker that dies is started again and its study done again; no other study is lost.
            max_restarts=-1,
            max_task_retries=-1,
        )
        finished = 0
        for row in dataset.iter_rows():
            finished += 1
            progress(finished, len(studies), time.perf_counter() - started, row["label"])
        return finished
    finally:
        ray.shutdown()
