from pathlib import Path

import pytest

from repository_manager.repos.definitions import DefinitionsTarget, find_definitions
from repository_manager.repos.errors import RepoError


def tree(root: Path, *files: str, pyproject: str | None = None) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    if pyproject is not None:
        (root / "pyproject.toml").write_text(pyproject)
    return root


def target(kind: str, value: str, wd: str = ".") -> DefinitionsTarget:
    return DefinitionsTarget(kind=kind, value=value, working_directory=wd)  # type: ignore[arg-type]


def test_explicit_python_file(tmp_path: Path) -> None:
    tree(tmp_path, "pipelines/defs.py", "definitions.py")
    found = find_definitions(tmp_path, python_file="pipelines/defs.py")
    assert found == target("python_file", "pipelines/defs.py")


def test_explicit_python_file_in_src(tmp_path: Path) -> None:
    tree(tmp_path, "src/pkg/defs.py")
    assert find_definitions(tmp_path, python_file="src/pkg/defs.py").working_directory == "src"


def test_explicit_python_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="does not exist in the repository"):
        find_definitions(tmp_path, python_file="missing.py")


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "a/../../outside.py"])
def test_explicit_python_file_cannot_escape(tmp_path: Path, path: str) -> None:
    checkout = tmp_path / "checkout"
    tree(checkout, "a/x.py")
    (tmp_path / "outside.py").write_text("")
    with pytest.raises(RepoError, match="inside the repository"):
        find_definitions(checkout, python_file=path)


def test_explicit_python_file_symlink_cannot_escape(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (tmp_path / "outside.py").write_text("")
    (checkout / "link.py").symlink_to(tmp_path / "outside.py")
    with pytest.raises(RepoError, match="inside the repository"):
        find_definitions(checkout, python_file="link.py")


def test_explicit_module(tmp_path: Path) -> None:
    tree(tmp_path, "src/my_pkg/__init__.py")
    assert find_definitions(tmp_path, module="my_pkg.defs") == target(
        "module", "my_pkg.defs", "src"
    )


def test_explicit_module_must_be_dotted(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="not a dotted module name"):
        find_definitions(tmp_path, module="my-pkg/defs")


def test_both_explicit_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="not both"):
        find_definitions(tmp_path, python_file="a.py", module="a")


def test_tool_dagster_module_name(tmp_path: Path) -> None:
    pyproject = '[tool.dagster]\nmodule_name = "etl.defs"\ncode_location_name = "ignored"\n'
    tree(tmp_path, "etl/__init__.py", "other/definitions.py", pyproject=pyproject)
    assert find_definitions(tmp_path) == target("module", "etl.defs")


def test_tool_dg_project(tmp_path: Path) -> None:
    pyproject = '[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "proj"\n'
    tree(tmp_path, "src/proj/__init__.py", "src/proj/definitions.py", pyproject=pyproject)
    assert find_definitions(tmp_path) == target("module", "proj.definitions", "src")


def test_root_definitions_file(tmp_path: Path) -> None:
    tree(tmp_path, "definitions.py", pyproject='[project]\nname = "x"\n')
    assert find_definitions(tmp_path) == target("python_file", "definitions.py")


def test_package_definitions_one_level_down(tmp_path: Path) -> None:
    tree(tmp_path, "my_pipeline/__init__.py", "my_pipeline/definitions.py")
    assert find_definitions(tmp_path) == target("module", "my_pipeline.definitions")


def test_plain_folder_definitions_one_level_down(tmp_path: Path) -> None:
    tree(tmp_path, "pipelines/definitions.py")
    assert find_definitions(tmp_path) == target("python_file", "pipelines/definitions.py")


def test_src_layout(tmp_path: Path) -> None:
    tree(tmp_path, "src/my_pipeline/__init__.py", "src/my_pipeline/definitions.py")
    assert find_definitions(tmp_path) == target("module", "my_pipeline.definitions", "src")


def test_hidden_and_virtualenv_folders_are_ignored(tmp_path: Path) -> None:
    tree(tmp_path, ".venv/definitions.py", "venv/definitions.py", "pkg/definitions.py")
    assert find_definitions(tmp_path) == target("python_file", "pkg/definitions.py")


def test_nothing_found_says_how_to_point(tmp_path: Path) -> None:
    tree(tmp_path, "README.md", "deep/er/definitions.py")
    with pytest.raises(RepoError, match=r"no Dagster definitions found.*PYTHON_FILE=.*MODULE="):
        find_definitions(tmp_path)


def test_several_found_lists_them(tmp_path: Path) -> None:
    tree(tmp_path, "definitions.py", "a/__init__.py", "a/definitions.py", "src/b/definitions.py")
    with pytest.raises(RepoError) as caught:
        find_definitions(tmp_path)
    message = str(caught.value)
    assert "several Dagster definitions found" in message
    for path in ("definitions.py", "a/definitions.py", "src/b/definitions.py"):
        assert path in message
    assert "PYTHON_FILE=" in message


def test_invalid_pyproject_is_one_line(tmp_path: Path) -> None:
    tree(tmp_path, pyproject="[project\n")
    with pytest.raises(RepoError, match="not valid TOML"):
        find_definitions(tmp_path)


def test_code_server_args() -> None:
    assert target("module", "a.definitions", "src").code_server_args() == [
        "--module-name",
        "a.definitions",
        "--working-directory",
        "src",
    ]
