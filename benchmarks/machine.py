"""What a benchmark ran on, and a loud warning when the CPU was busy while it ran.

On a small machine a second job halves or worse every figure (two OpenMP threads on two busy cores slow down
by an order of magnitude), so each benchmark prints the machine, its threads and the load average beside its
numbers, and warns when the load says the figures are not to be trusted.
"""

from __future__ import annotations

import os
import platform
import sys

import torch

BUSY_LOAD_PER_CORE = 0.5
"""A 1-minute load average above half the core count means another job shares the CPU."""


def describe_machine() -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads, {device}; load average {load} (1, 5, 15 min)"
    )


def warn_if_busy() -> None:
    """Print a loud warning to stderr when the CPU is already busy before a benchmark starts."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > BUSY_LOAD_PER_CORE * cores:
        print(
            f"WARNING: the 1-minute load average is {load:.2f} on {cores} cores: another job shares the CPU (or has just "
            "ended: the average lags by about a minute) and the figures below may be too low. Rerun on an idle machine before quoting them.",
            file=sys.stderr,
        )
