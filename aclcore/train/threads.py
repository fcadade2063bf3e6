"""How many CPU threads torch uses: ``acl train --threads N|auto``.

On a CPU shared with other busy processes, torch's default (one thread per core) is much
slower than fewer threads, because every parallel operation waits for its slowest thread
(measured here on 2 cores with a load of 6: a LeNet step took 3-4x longer with 2 threads
than with 1). ``auto`` therefore takes the CPUs this process may use, minus the rounded
one-minute load average, at least 1; ``OMP_NUM_THREADS`` (set by ``torchrun``), when present,
wins.
"""

from __future__ import annotations

import os

import torch

from aclcore.errors import ConfigError

__all__ = ["auto_threads", "set_threads"]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_threads() -> int:
    """Threads for ``auto``: ``OMP_NUM_THREADS``, else free CPUs (CPUs minus load), >= 1."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    cpus = _cpus()
    try:
        load = os.getloadavg()[0]
    except OSError:
        return cpus
    return max(1, min(cpus, round(cpus - load)))


def set_threads(value: str | int) -> int:
    """Apply ``value`` (a positive int or ``"auto"``) with ``torch.set_num_threads``.

    Returns the number of threads set.

    Raises:
        ConfigError: neither a positive int nor ``auto``.
    """
    if value == "auto":
        count = auto_threads()
    else:
        try:
            count = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"--threads must be a positive int or auto, got {value!r}"
                              ) from None
        if count < 1:
            raise ConfigError(f"--threads must be a positive int or auto, got {value!r}")
    torch.set_num_threads(count)
    return count
