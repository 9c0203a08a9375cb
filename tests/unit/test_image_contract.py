"""The control plane and the ECS runtime share no code, only a wire contract: the annotations
of a locally built image's manifest. Both sides must spell them alike."""

from __future__ import annotations

import json

from ecs_local import images
from repository_manager.repos import manager
from repository_manager.repos.ecr import image_manifest


def test_both_sides_name_the_annotations_alike() -> None:
    assert manager.ROOT_ANNOTATION == images.ROOT_ANNOTATION
    assert manager.WORKDIR_ANNOTATION == images.WORKDIR_ANNOTATION
    assert manager.ENV_ANNOTATION == images.ENV_ANNOTATION
    assert manager.ENTRYPOINT_ANNOTATION == images.ENTRYPOINT_ANNOTATION


def test_a_manifest_the_control_plane_writes_is_the_image_the_runtime_runs() -> None:
    annotations = {
        manager.ROOT_ANNOTATION: "/images/sales/venv",
        manager.WORKDIR_ANNOTATION: "/checkouts/sales",
        manager.ENV_ANNOTATION: json.dumps({"PYTHONPATH": "/checkouts/sales"}),
        manager.ENTRYPOINT_ANNOTATION: json.dumps(["/platform/docker/entrypoint.sh"]),
    }
    manifest = image_manifest("sha256:" + "a" * 64, annotations)
    reference = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/dagster-ecs-repos/sales:abc"
    image = images.image_from_manifest(reference, manifest)
    assert image is not None
    assert str(image.root) == "/images/sales/venv"
    assert image.working_directory == "/checkouts/sales"
    assert image.env == {"PYTHONPATH": "/checkouts/sales"}
    assert image.entry_point == ["/platform/docker/entrypoint.sh"]
    assert images.image_from_manifest(reference, image_manifest("sha256:" + "b" * 64)) is None
    assert images.ECR_REFERENCE.match(reference)
    assert images.ECR_REFERENCE.match(reference.replace(":abc", "@sha256:" + "c" * 64))


def test_only_the_platform_repository_falls_back_to_the_platform_tree() -> None:
    """An image that ECR does not hold resolves to a built-in tree only when it is the
    platform's own repository; a repository's missing image is CannotPullContainerError."""
    store = images.ImageStore(images.builtin_images())
    registry = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com"
    platform = store.resolve(f"{registry}/dagster-ecs:main", pull=lambda reference: None)
    assert platform is not None and platform.pattern.endswith("/dagster-ecs:*")
    assert store.resolve(f"{registry}/dagster-ecs@sha256:" + "a" * 64, pull=lambda r: None)
    assert store.resolve(f"{registry}/dagster-ecs-repos/sales:abc", pull=lambda r: None) is None
    assert store.resolve(f"{registry}/tf1234-repos/sales:abc", pull=lambda r: None) is None
