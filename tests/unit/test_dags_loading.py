"""Loading a DAG package through the platform loader; no network is touched."""

import sys
import textwrap
from pathlib import Path

import pytest
from dagster import AssetKey, DefaultScheduleStatus, DefaultSensorStatus, materialize

from dagster_code.loader import (
    DagsLoadError,
    dags_dir_from_env,
    load_dag_package,
    package_module_name,
)
from dagster_code.location import build_definitions
from dagster_code.resources import PlatformConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN_DAGS = REPO_ROOT / "dags" / "main"
ENV = {"DAGSTER_S3_BUCKET": "dagster-ecs-local", "DAGSTER_REPO_NAME": "main"}
ASSETS = {"raw_orders", "cleaned_orders", "order_summary", "order_report"}


def write_package(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_main_dags_load_with_platform_storage() -> None:
    defs = build_definitions(env=ENV, dags_dir=MAIN_DAGS)

    assert {key.to_user_string() for key in defs.resolve_all_asset_keys()} == ASSETS
    job = defs.resolve_job_def("main_assets_job")
    assert job.executor_def.name == "in_process"
    assert set(job.asset_layer.executable_asset_keys) == {AssetKey(name) for name in ASSETS}

    schedule = defs.resolve_schedule_def("daily_orders_schedule")
    assert schedule.job_name == "main_assets_job"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    sensor = defs.resolve_sensor_def("new_orders_sensor")
    assert sensor.job_name == "main_assets_job"
    assert sensor.default_status == DefaultSensorStatus.STOPPED

    io_manager = defs.resources["io_manager"]
    assert (io_manager.s3_bucket, io_manager.s3_prefix) == (
        "dagster-ecs-local",
        "repos/main/assets",
    )
    assert "s3" in defs.resources


def test_assets_compute_a_consistent_summary() -> None:
    dag_defs = load_dag_package(MAIN_DAGS)
    result = materialize(
        list(dag_defs.assets or []),
        resources={"sample_orders": dag_defs.resources["sample_orders"]},
    )
    assert result.success
    raw = result.output_for_node("raw_orders")
    cleaned = result.output_for_node("cleaned_orders")
    summary = result.output_for_node("order_summary")
    assert 0 < len(cleaned) < len(raw)
    assert all(order["amount"] > 0 and order["quantity"] > 0 for order in cleaned)
    assert set(summary) <= {"apac", "emea", "amer"}
    assert sum(region["orders"] for region in summary.values()) == len(cleaned)


def test_dags_dir_defaults_to_dags_main_and_accepts_absolute(tmp_path: Path) -> None:
    assert dags_dir_from_env({}, cwd=REPO_ROOT) == MAIN_DAGS
    assert dags_dir_from_env({"DAGS_DIR": "dags/main"}, cwd=REPO_ROOT) == MAIN_DAGS
    assert dags_dir_from_env({"DAGS_DIR": str(tmp_path)}, cwd=REPO_ROOT) == tmp_path.resolve()


def test_directory_without_init_gives_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "assets.py").write_text("x = 1\n")
    with pytest.raises(DagsLoadError) as caught:
        load_dag_package(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"DAGS_DIR={tmp_path} is not a Python package")
    assert "\n" not in message


def test_missing_directory_gives_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(DagsLoadError, match=r"DAGS_DIR=.*absent is not a directory") as caught:
        build_definitions(env=ENV, dags_dir=missing)
    assert "\n" not in str(caught.value)


def test_package_without_defs_is_rejected(tmp_path: Path) -> None:
    package = write_package(tmp_path / "nodefs", {"__init__.py": "defs = 42\n"})
    with pytest.raises(DagsLoadError, match=r"must expose `defs` as a dagster\.Definitions"):
        load_dag_package(package)


def test_relative_imports_work_and_same_layouts_do_not_collide(tmp_path: Path) -> None:
    def package(name: str, asset_name: str) -> Path:
        return write_package(
            tmp_path / name / "dags",
            {
                "__init__.py": """
                    from dagster import Definitions
                    from .assets import thing
                    defs = Definitions(assets=[thing])
                """,
                "assets.py": f"""
                    from dagster import asset
                    @asset(name="{asset_name}")
                    def thing() -> int:
                        return 1
                """,
            },
        )

    first, second = package("one", "first_thing"), package("two", "second_thing")
    assert package_module_name(first) != package_module_name(second)
    assert {k.to_user_string() for k in load_dag_package(first).resolve_all_asset_keys()} == {
        "first_thing"
    }
    assert {k.to_user_string() for k in load_dag_package(second).resolve_all_asset_keys()} == {
        "second_thing"
    }
    assert f"{package_module_name(first)}.assets" in sys.modules


def test_import_error_in_package_leaves_no_half_loaded_module(tmp_path: Path) -> None:
    package = write_package(tmp_path / "broken", {"__init__.py": "from .missing import nothing\n"})
    with pytest.raises(ImportError):
        load_dag_package(package)
    assert package_module_name(package) not in sys.modules


def test_dag_package_may_not_replace_platform_storage(tmp_path: Path) -> None:
    package = write_package(
        tmp_path / "own_storage",
        {
            "__init__.py": """
                from dagster import Definitions, mem_io_manager
                defs = Definitions(resources={"io_manager": mem_io_manager})
            """
        },
    )
    with pytest.raises(PlatformConfigError, match=r"defines platform resource.*io_manager"):
        build_definitions(env=ENV, dags_dir=package)


def test_dag_package_keeps_its_own_executor(tmp_path: Path) -> None:
    package = write_package(
        tmp_path / "own_executor",
        {
            "__init__.py": """
                from dagster import Definitions, asset, define_asset_job, multiprocess_executor
                @asset
                def a() -> int:
                    return 1
                defs = Definitions(
                    assets=[a],
                    jobs=[define_asset_job("j")],
                    executor=multiprocess_executor.configured({"max_concurrent": 1}),
                )
            """
        },
    )
    defs = build_definitions(env=ENV, dags_dir=package)
    assert defs.resolve_job_def("j").executor_def.name == "multiprocess"
