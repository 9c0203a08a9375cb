"""URL rules, and clones of real repositories the tests create (file:// URLs, no network)."""

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from repository_manager.repos.errors import RepoError
from repository_manager.repos.git import check_url, clone, redact, remote_head

GIT_ID = ["-c", "user.email=test@example.com", "-c", "user.name=test"]


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True)
    return out.stdout.decode().strip()


def make_repo(path: Path, files: dict[str, str], branch: str = "main") -> str:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", branch)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return git(path, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[str, str]:
    sha = make_repo(tmp_path / "origin", {"README.md": "hello\n"})
    return f"file://{tmp_path / 'origin'}", sha


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/user/repo.git",
        "ssh://git@github.com/user/repo.git",
        "ssh://git@host:2222/user/repo.git",
        "git@github.com:user/repo.git",
        "file:///srv/git/repo",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://alice:hunter2@github.com/user/repo.git", "hunter2"),
        ("https://ghp_abcdef123456@github.com/user/repo.git", "ghp_abcdef123456"),
        ("https://oauth2:glpat-XYZ@gitlab.com/group/repo.git", "glpat-XYZ"),
        ("ssh://git:pa55word@host/repo.git", "pa55word"),
        ("https://github.com/user/repo.git?access_token=tok999", "tok999"),
    ],
)
def test_credentials_are_refused_and_never_echoed(url: str, secret: str) -> None:
    with pytest.raises(RepoError) as caught:
        check_url(url)
    message = str(caught.value)
    assert secret not in message
    assert "credential helper" in message and "SSH key" in message
    assert "\n" not in message


def test_plain_local_path_says_to_use_file_url() -> None:
    with pytest.raises(RepoError, match=r"local path: write it as file:///srv/repo"):
        check_url("/srv/repo")


@pytest.mark.parametrize("url", ["http://github.com/u/r.git", "git://host/r.git", "ftp://h/r"])
def test_unsupported_schemes(url: str) -> None:
    with pytest.raises(RepoError, match="unsupported git URL scheme"):
        check_url(url)


@pytest.mark.parametrize("url", ["", "not a url", "-oProxyCommand=x:y", "file://host/path"])
def test_malformed_urls(url: str) -> None:
    with pytest.raises(RepoError):
        check_url(url)


def test_redact_drops_user_info_and_query() -> None:
    assert redact("https://a:b@h.example/p.git?t=1") == "https://***@h.example/p.git"


def test_clone_returns_the_commit(repo: tuple[str, str], tmp_path: Path) -> None:
    url, sha = repo
    dest = tmp_path / "checkout"
    assert clone(url, "main", dest) == sha
    assert (dest / "README.md").read_text() == "hello\n"
    assert git(dest, "rev-parse", "--is-shallow-repository") == "true"
    assert git(dest, "config", "remote.origin.fetch") == "+refs/heads/main:refs/remotes/origin/main"


def test_remote_head_follows_new_commits(repo: tuple[str, str], tmp_path: Path) -> None:
    url, sha = repo
    assert remote_head(url, "main") == sha
    origin = tmp_path / "origin"
    (origin / "new.txt").write_text("x")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "second")
    moved = remote_head(url, "main")
    assert moved != sha and moved == git(origin, "rev-parse", "HEAD")


def test_missing_branch_lists_the_branches(repo: tuple[str, str], tmp_path: Path) -> None:
    url, _ = repo
    with pytest.raises(RepoError, match=r"branch 'dev' not found .*\(branches: main\)"):
        clone(url, "dev", tmp_path / "checkout")
    assert not (tmp_path / "checkout").exists()


def test_missing_repository(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match=r"repository not found: .*nowhere does not exist"):
        clone(f"file://{tmp_path / 'nowhere'}", "main", tmp_path / "checkout")


def test_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(RepoError, match=r"plain is not a git repository"):
        remote_head(f"file://{tmp_path / 'plain'}", "main")


def test_unreachable_host() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RepoError, match=r"cannot reach https://127\.0\.0\.1:\d+/r\.git"):
        remote_head(f"https://127.0.0.1:{port}/r.git", "main", timeout=30)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections (the kernel's backlog does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_timeout(silent_server: int, tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{silent_server}/r.git"
    with pytest.raises(RepoError, match=r"timed out after 1s"):
        clone(url, "main", tmp_path / "checkout", timeout=1)


def test_clone_into_non_empty_destination(repo: tuple[str, str], tmp_path: Path) -> None:
    url, _ = repo
    dest = tmp_path / "checkout"
    dest.mkdir()
    (dest / "x").write_text("x")
    with pytest.raises(RepoError, match="is not empty"):
        clone(url, "main", dest)


@pytest.mark.parametrize("branch", ["-b", "a..b", "has space", ""])
def test_invalid_branch_names(repo: tuple[str, str], branch: str) -> None:
    with pytest.raises(RepoError, match="invalid branch name"):
        remote_head(repo[0], branch)
