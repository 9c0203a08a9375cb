"""uv's failure output (as uv 0.13 prints it without a terminal), read into one line."""

from pathlib import Path

from repository_manager.repos.build import _install_error
from repository_manager.repos.sources import dependency_sources, file_naming
from repository_manager.repos.uv_run import read_failure

NOT_FOUND = """Using Python 3.11.7 environment at: v
error: No solution found when resolving dependencies
  cause: Because nonexistent-pkg-zzq was not found in the package registry and you require \
nonexistent-pkg-zzq, we can conclude that your requirements are unsatisfiable.
"""
CONFLICT = """error: No solution found when resolving dependencies
  cause: Because you require dagster==1.13.27 and dagster==1.0.0, we can conclude that your \
requirements are unsatisfiable.
"""
BUILD = """Resolved 1 package in 1ms
   Building badpkg @ file:///tmp/badpkg
error: Failed to build `badpkg @ file:///tmp/badpkg`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta.get_requires_for_build_wheel` failed (exit status: 1)

         [stderr]
         boom
"""


def test_not_found() -> None:
    failure = read_failure(NOT_FOUND)
    assert failure.package == "nonexistent-pkg-zzq"
    assert failure.reason == "not found in the package registry"
    assert len(failure.tail) == 3


def test_conflict() -> None:
    failure = read_failure(CONFLICT)
    assert failure.package == "dagster" and failure.reason == "its requirements conflict"


def test_build_failure() -> None:
    failure = read_failure(BUILD)
    assert failure.package == "badpkg" and failure.reason == "its build failed"


def test_unknown_output_keeps_the_first_cause() -> None:
    failure = read_failure("error: something odd\n")
    assert failure.package is None and failure.cause == "something odd"


def test_the_file_naming_the_package(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# pins\nsix==1.17\nNonexistent_Pkg_ZZQ>=1 ; python_version>'3'\n"
    )
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\ndependencies = ["attrs"]\n')
    sources = dependency_sources(tmp_path)
    assert file_naming("nonexistent-pkg-zzq", sources) == "requirements.txt"
    assert file_naming("attrs", sources) == "pyproject.toml"
    assert file_naming("mine", sources) == "pyproject.toml"
    assert file_naming("dagster", sources) is None
    message = str(_install_error(NOT_FOUND, sources))
    assert message == (
        "installing package 'nonexistent-pkg-zzq' (from requirements.txt) failed: not found in "
        "the package registry: Because nonexistent-pkg-zzq was not found in the package registry"
        " and you require nonexistent-pkg-zzq, we can conclude that your requirements are "
        "unsatisfiable."
    )


def test_dependency_sources(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.uv]\npackage = false\n')
    (tmp_path / "uv.lock").write_text("version = 1\n")
    sources = dependency_sources(tmp_path)
    assert sources.lock and not sources.project and not sources.requirements
