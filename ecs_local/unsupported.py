"""What a task definition or service asks for that a process runtime cannot give, said aloud.

ECS would honour these; here they are accepted (so the same definitions register) and named
once per task definition in the runtime's log and, for a service, in its events, instead of
being silently ignored. The parity table in docs/ecs-emulation.md gives the reasons.
"""

from __future__ import annotations

import platform
from typing import Any

_ARCHITECTURES = {"x86_64": "X86_64", "amd64": "X86_64", "aarch64": "ARM64", "arm64": "ARM64"}


def host_architecture() -> str:
    machine = platform.machine().lower()
    return _ARCHITECTURES.get(machine, machine.upper())


def unsupported_features(
    task_definition: dict[str, Any], service: dict[str, Any] | None = None
) -> list[str]:
    """One sentence per feature the runtime will not honour for this task."""
    found: list[str] = []
    wanted = (task_definition.get("runtimePlatform") or {}).get("cpuArchitecture")
    host = host_architecture()
    if wanted and wanted != host:
        found.append(f"runtimePlatform {wanted} is not emulated: the task runs as {host}")
    for volume in task_definition.get("volumes") or []:
        if volume.get("efsVolumeConfiguration"):
            fs = volume["efsVolumeConfiguration"].get("fileSystemId", "?")
            found.append(f"EFS volume {volume.get('name')} ({fs}) is not mounted")
    for container in task_definition.get("containerDefinitions") or []:
        for mount in container.get("mountPoints") or []:
            found.append(
                f"container {container.get('name')}: mount point {mount.get('containerPath')} "
                "is not provided (the task's own folder stands in)"
            )
    for balancer in (service or {}).get("loadBalancers") or []:
        target = balancer.get("targetGroupArn") or balancer.get("loadBalancerName") or "?"
        found.append(f"load balancer target {target} is not registered with")
    return found
