"""Cloud Map registration of service tasks (ECS serviceRegistries)."""

from __future__ import annotations

from typing import Any


def registry_port(registry: dict[str, Any], definitions: list[dict[str, Any]]) -> int | None:
    if registry.get("port"):
        return int(registry["port"])
    if registry.get("containerPort"):
        return int(registry["containerPort"])
    name = registry.get("containerName")
    for definition in definitions:
        if name and definition.get("name") != name:
            continue
        for mapping in definition.get("portMappings") or []:
            if mapping.get("containerPort"):
                return int(mapping["containerPort"])
    return None


def instance_attributes(
    address: str, port: int | None, cluster: str, service: str, family: str, region: str
) -> dict[str, str]:
    attributes = {
        "AWS_INSTANCE_IPV4": address,
        "AVAILABILITY_ZONE": f"{region}a",
        "AWS_INIT_HEALTH_STATUS": "HEALTHY",
        "ECS_CLUSTER_NAME": cluster,
        "ECS_SERVICE_NAME": service,
        "ECS_TASK_DEFINITION_FAMILY": family,
        "REGION": region,
    }
    if port is not None:
        attributes["AWS_INSTANCE_PORT"] = str(port)
    return attributes


def service_id(registry_arn: str) -> str:
    return registry_arn.rsplit("/", 1)[-1]


def register(client: Any, registry_arn: str, instance_id: str, attributes: dict[str, str]) -> None:
    client.register_instance(
        ServiceId=service_id(registry_arn), InstanceId=instance_id, Attributes=attributes
    )


def deregister(client: Any, registry_arn: str, instance_id: str) -> None:
    try:
        client.deregister_instance(ServiceId=service_id(registry_arn), InstanceId=instance_id)
    except Exception as error:
        if "NotFound" not in type(error).__name__ and "NotFound" not in str(error):
            raise
