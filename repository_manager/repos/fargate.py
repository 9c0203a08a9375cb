"""Fargate's task sizes (AWS ECS docs, "Task CPU and memory"): CPU units → allowed MiB."""

from __future__ import annotations

FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


def fargate_size_problem(cpu: int, memory: int) -> str | None:
    """None if ``cpu``/``memory`` is a valid Fargate task size, else what to change."""
    if cpu not in FARGATE_MEMORY:
        cpus = ", ".join(str(c) for c in FARGATE_MEMORY)
        return f"cpu {cpu} is not a Fargate size: use one of {cpus}"
    allowed = FARGATE_MEMORY[cpu]
    if memory in allowed:
        return None
    if len(allowed) <= 4:
        choices = ", ".join(str(m) for m in allowed)
    else:
        step = allowed[1] - allowed[0]
        choices = f"{allowed[0]}-{allowed[-1]} in steps of {step}"
    return f"memory {memory} is not valid with cpu {cpu} on Fargate: use {choices} MiB"
