"""Recording a built image in ECR, so a deployment names it the way it would on AWS.

The local build makes no layers; the manifest is a minimal Docker v2 schema whose config and
only layer carry the image's content digest. The URI returned uses the digest ECR itself
reports (real ECR: sha256 of the manifest; moto: derived from the layer digests), which is what
``describe_images`` answers later.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from repository_manager.repos.errors import RepoError

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def image_manifest(digest: str, annotations: dict[str, str] | None = None) -> str:
    manifest: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": 0, "digest": digest},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "size": 0, "digest": digest}],
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"))


def record_in_ecr(
    ecr_client: Any,
    repository_name: str,
    tag: str,
    digest: str,
    by_digest: bool = True,
    annotations: dict[str, str] | None = None,
) -> str:
    """Creates the ECR repository if missing, puts the image; returns its URI, pinned by the
    registry's digest (``…@sha256:…``) or, with ``by_digest=False``, by tag (``…:tag``)."""
    if not digest.startswith("sha256:") or len(digest) != 71:
        raise RepoError(f"image digest {digest!r} is not sha256:<64 hex characters>")
    try:
        uri = _ensure_repository(ecr_client, repository_name)
        try:
            image = ecr_client.put_image(
                repositoryName=repository_name,
                imageManifest=image_manifest(digest, annotations),
                imageManifestMediaType=MANIFEST_MEDIA_TYPE,
                imageTag=tag,
            )["image"]
            registry_digest = image["imageId"]["imageDigest"]
        except ClientError as error:
            if _code(error) != "ImageAlreadyExistsException":
                raise
            registry_digest = _digest_of_tag(ecr_client, repository_name, tag)
    except ClientError as error:
        raise RepoError(
            f"ECR refused recording {repository_name}:{tag}: {_code(error)}: "
            f"{error.response.get('Error', {}).get('Message', '')}"
        ) from None
    except BotoCoreError as error:
        raise RepoError(f"cannot reach ECR to record {repository_name}:{tag}: {error}") from None
    return f"{uri}@{registry_digest}" if by_digest else f"{uri}:{tag}"


def _ensure_repository(ecr_client: Any, repository_name: str) -> str:
    try:
        repos = ecr_client.describe_repositories(repositoryNames=[repository_name])
        return str(repos["repositories"][0]["repositoryUri"])
    except ClientError as error:
        if _code(error) != "RepositoryNotFoundException":
            raise
    try:
        created = ecr_client.create_repository(repositoryName=repository_name)
    except ClientError as error:
        if _code(error) != "RepositoryAlreadyExistsException":
            raise
        return _ensure_repository(ecr_client, repository_name)
    return str(created["repository"]["repositoryUri"])


def _digest_of_tag(ecr_client: Any, repository_name: str, tag: str) -> str:
    images = ecr_client.describe_images(
        repositoryName=repository_name, imageIds=[{"imageTag": tag}]
    )
    return str(images["imageDetails"][0]["imageDigest"])


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "ClientError"))
