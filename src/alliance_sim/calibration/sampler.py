"""pyabc's dask sampler with deterministic per-simulation seeds.

pyabc's ``DaskDistributedSampler`` re-seeds numpy from the operating system in every job, so two runs
with the same seed draw different particles.  This subclass seeds each evaluation from
(calibration seed, generation, job id) instead.  pyabc already assembles a generation from the jobs in
job-id order up to the n-th accepted one, so with these seeds a generation's particles, weights and
distances no longer depend on the number of workers, their speed, or whether the run is serial (the
``SerialClient`` below runs the same jobs in this process).  The loop is adapted from pyabc's
``EPSMixin.sample_until_n_accepted`` (BSD-3-Clause); the count of evaluations reported is the number
of jobs up to the n-th accepted one, as a serial run evaluates (a cluster also runs a few jobs that are
then cancelled or discarded).
"""

from __future__ import annotations

import random
from time import sleep

import cloudpickle
import numpy as np
from pyabc.sampler import DaskDistributedSampler
from sortedcontainers import SortedList


def _seeded_batch(simulate_one_pickle: bytes, job_ids: list[int], seed: int, t: int):
    simulate_one = cloudpickle.loads(simulate_one_pickle)
    out = []
    for job_id in job_ids:
        state = np.random.SeedSequence([seed, t + 2, job_id]).generate_state(4)
        np.random.seed(state)
        random.seed(int(state[0]))
        res = simulate_one()
        out.append((res, res.accepted, job_id))
    return out


class _Done:
    def __init__(self, value):
        self.value = value

    def done(self) -> bool:
        return True

    def result(self):
        return self.value

    def cancel(self) -> None:
        pass


class SerialClient:
    """A stand-in for a dask client that runs each job at once, in this process."""

    def submit(self, fn, *args, **kwargs):
        return _Done(fn(*args, **kwargs))

    def ncores(self) -> dict[str, int]:
        return {"local": 1}

    def close(self) -> None:
        pass


class SeededDaskSampler(DaskDistributedSampler):
    """``DaskDistributedSampler`` whose particles depend on the seed only (see the module docstring)."""

    def __init__(self, client, seed: int, batch_size: int = 1, client_max_jobs: float = np.inf):
        super().__init__(dask_client=client, client_max_jobs=client_max_jobs, default_pickle=True,
                         batch_size=batch_size)
        self.seed = int(seed)
        self.on_evaluated = None   # optional callback(evaluated, accepted, n, t) for progress

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False,
                                ana_vars=None):
        pickled = cloudpickle.dumps(simulate_one)
        num_accepted = 0
        next_job_id = 0
        running: list = []
        results = SortedList(key=lambda x: x[2])
        while True:
            for item in list(running):
                job_id, job = item
                if job.done():
                    batch = job.result()
                    results.update(batch)
                    num_accepted += sum(1 for r in batch if r[1])
                    running.remove(item)
                    if self.on_evaluated is not None:
                        self.on_evaluated(len(results), num_accepted, n, t)
            if num_accepted >= n:
                nth = [r[2] for r in results if r[1]][n - 1]
                for item in list(running):
                    if item[0] > nth:
                        running.remove(item)
                        item[1].cancel()
                if not running:
                    break
            n_job_max = int(min(self.client_max_jobs, self.client_cores()))
            if len(running) < n_job_max and num_accepted < n:
                for _ in range(n_job_max - len(running)):
                    ids = [next_job_id + i for i in range(self.batch_size)]
                    next_job_id += self.batch_size
                    running.append((ids[0], self.client.submit(_seeded_batch, pickled, ids, self.seed, t)))
            if not isinstance(self.client, SerialClient):
                sleep(0.005)
        sample = self._create_empty_sample()
        nth = [r[2] for r in results if r[1]][n - 1]
        while True:
            r = results.pop(0)
            sample.append(r[0])
            if r[2] == nth:
                break
        self.nr_evaluations_ = nth + 1
        return sample
