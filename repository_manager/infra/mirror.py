"""The provider comes only from a filesystem mirror; the project writes its own CLI config.

The CLI config names the mirror and nothing else, so ``init`` never reaches a registry. It is
written next to the run's data dir, never in the user's home, and handed to the binary through
``TF_CLI_CONFIG_FILE`` for the project's own runs only.
"""

from __future__ import annotations

import os
from pathlib import Path

from repository_manager.infra import InfraError

MIRROR_ENV = "DAGSTER_ECS_PROVIDER_MIRROR"
PROVIDER = "registry.terraform.io/hashicorp/aws"


def search_paths() -> list[Path]:
    home = Path.home()
    return [
        Path("/opt/tf-plugins"),
        home / ".terraform.d" / "plugins",
        home / ".local" / "share" / "terraform" / "plugins",
        home / ".local" / "share" / "opentofu" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
        Path("/usr/local/share/opentofu/plugins"),
        Path("/usr/share/opentofu/plugins"),
    ]


def holds_provider(folder: Path) -> bool:
    """True when ``folder`` is a mirror holding at least one version of the AWS provider."""
    provider_dir = folder / PROVIDER
    return provider_dir.is_dir() and any(provider_dir.iterdir())


def find_mirror() -> Path:
    configured = os.environ.get(MIRROR_ENV)
    if configured:
        folder = Path(configured).expanduser()
        if not holds_provider(folder):
            raise InfraError(
                f"{MIRROR_ENV}={configured} holds no {PROVIDER}/<version>/<platform>/: "
                "point it at a provider filesystem mirror"
            )
        return folder
    for folder in search_paths():
        if holds_provider(folder):
            return folder
    searched = ", ".join(str(p) for p in search_paths())
    raise InfraError(
        f"no filesystem mirror of {PROVIDER} found (searched {searched}): "
        f"set {MIRROR_ENV} to the folder that holds registry.terraform.io/"
    )


def cli_config_text(mirror: Path) -> str:
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {str(mirror)!r}\n"
        f'    include = ["{PROVIDER}"]\n'
        "  }\n"
        "}\n"
    ).replace("'", '"')


def write_cli_config(path: Path, mirror: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cli_config_text(mirror))
    return path
