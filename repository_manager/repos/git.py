"""Git access without prompts: URL rules, ``ls-remote`` to tell errors apart, shallow clones.

Credentials never travel in a URL (they would end up in config files, logs and process lists):
a URL carrying them is refused, and the secret part is never repeated in a message.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from repository_manager.repos.errors import RepoError, one_line

_SCP_LIKE = re.compile(r"(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^\s]+)")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_CREDENTIALS_HINT = (
    "remove them and use a git credential helper (git config credential.helper) or an SSH key"
)
DEFAULT_TIMEOUT = 120.0


def check_url(url: str) -> str:
    """Returns the URL if it is an https://, ssh:// (or ``user@host:path``) or file:// URL
    without credentials, else raises :class:`RepoError`."""
    url = url.strip() if isinstance(url, str) else ""
    if not url:
        raise RepoError("git URL is empty: use https://, ssh://, git@host:path or file://")
    if url.startswith(("/", "./", "../", "~")):
        raise RepoError(f"git URL {url!r} is a local path: write it as file://{_abs(url)}")
    if "://" not in url:
        if _SCP_LIKE.fullmatch(url) and not url.startswith("-"):
            return url
        raise RepoError(
            "git URL is not a URL: use https://host/path, ssh://host/path, "
            "git@host:path or file:///absolute/path"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"https", "ssh", "file"}:
        raise RepoError(
            f"unsupported git URL scheme {scheme + '://'!r}: use https://, ssh:// "
            "(or git@host:path) or file://"
        )
    if scheme == "https" and "@" in parts.netloc:
        raise RepoError(f"git URL {redact(url)} embeds credentials: {_CREDENTIALS_HINT}")
    if scheme == "ssh" and parts.password is not None:
        raise RepoError(f"git URL {redact(url)} embeds a password: {_CREDENTIALS_HINT}")
    if parts.query or parts.fragment:
        raise RepoError(
            f"git URL {redact(url)} has a query or fragment (a common place for tokens): "
            f"drop it; for access, {_CREDENTIALS_HINT}"
        )
    if scheme == "file":
        if parts.netloc not in {"", "localhost"} or not parts.path.startswith("/"):
            raise RepoError("file:// URL must name an absolute local path: file:///path/to/repo")
    elif not parts.hostname:
        raise RepoError(f"git URL {redact(url)} has no host")
    return url


def redact(url: str) -> str:
    """The URL without user info, query or fragment: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    userinfo = "***@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{userinfo}{host}{parts.path}"


def remote_head(url: str, branch: str, timeout: float = 30.0) -> str:
    """The commit the branch points at in the remote repository."""
    url = check_url(url)
    _check_branch(branch)
    heads = _ls_remote(url, timeout)
    if branch not in heads:
        raise _missing_branch(url, branch, heads)
    return heads[branch]


def clone(
    url: str,
    branch: str,
    dest: Path,
    timeout: float = DEFAULT_TIMEOUT,
    commit: str | None = None,
) -> str:
    """Shallow single-branch clone into ``dest`` (absent or empty); returns the commit sha.
    With ``commit``, the checkout is that commit (fetched by its sha, still shallow)."""
    remote_head(url, branch, timeout=timeout)
    if dest.exists() and any(dest.iterdir()):
        raise RepoError(f"clone destination {dest} is not empty: remove it or choose another")
    dest.parent.mkdir(parents=True, exist_ok=True)
    _git(
        [
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--branch",
            branch,
            "--single-branch",
            "--",
            url,
            str(dest),
        ],
        url,
        timeout,
        doing=f"cloning branch {branch!r} of {_display(url)}",
    )
    if commit is not None:
        _checkout(url, dest, commit, timeout)
    sha = _git(["-C", str(dest), "rev-parse", "HEAD"], url, timeout, doing="reading HEAD").strip()
    if not _SHA.fullmatch(sha):
        raise RepoError(f"cloned {_display(url)} but could not read its commit (got {sha!r})")
    return sha


def _checkout(url: str, dest: Path, commit: str, timeout: float) -> None:
    if not _SHA.fullmatch(commit):
        raise RepoError(f"{commit!r} is not a full commit sha (40 hexadecimal digits)")
    doing = f"fetching commit {commit[:12]} of {_display(url)}"
    try:
        _git(
            ["-C", str(dest), "fetch", "--quiet", "--depth", "1", "origin", commit],
            url,
            timeout,
            doing,
        )
    except RepoError:
        raise RepoError(
            f"{_display(url)} has no commit {commit[:12]} (force-pushed away?): "
            "restore from a newer snapshot, or add the repository at its branch"
        ) from None
    _git(["-C", str(dest), "checkout", "--quiet", "--detach", commit], url, timeout, doing)


def _ls_remote(url: str, timeout: float) -> dict[str, str]:
    out = _git(["ls-remote", "--heads", "--", url], url, timeout, doing=f"reaching {_display(url)}")
    heads: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            heads[ref.removeprefix("refs/heads/")] = sha
    return heads


def _git(args: list[str], url: str, timeout: float, doing: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_git_env(),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise RepoError(
            f"{doing} timed out after {timeout:g}s: check the host is reachable "
            "or raise the timeout"
        ) from None
    except FileNotFoundError:
        raise RepoError("git is not installed: install git and retry") from None
    if proc.returncode != 0:
        raise _classify(url, proc.stderr, doing)
    return proc.stdout


def _git_env() -> dict[str, str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _classify(url: str, stderr: str, doing: str) -> RepoError:
    where = _display(url)
    text = stderr.lower()
    if url.startswith("file://"):
        path = Path(unquote(urlsplit(url).path))
        if not path.exists():
            return RepoError(f"repository not found: {path} does not exist")
        if "does not appear to be a git repository" in text or "not a git repository" in text:
            return RepoError(f"{path} is not a git repository: point git_url at a repository")
    if "could not resolve host" in text or "name or service not known" in text:
        return RepoError(f"cannot reach {where}: the host name does not resolve")
    if any(
        sign in text
        for sign in ("connection refused", "failed to connect", "timed out", "unreachable")
    ):
        return RepoError(f"cannot reach {where}: the connection failed")
    if "authentication failed" in text or "permission denied" in text or "terminal prompts" in text:
        return RepoError(
            f"access to {where} was denied: configure a git credential helper or an SSH key"
        )
    if "not found" in text or "does not appear to be a git repository" in text:
        return RepoError(f"repository not found: {where} (check the URL and your access)")
    last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "no error output")
    return RepoError(f"{doing} failed: {one_line(_scrub(last))}")


def _check_branch(branch: str) -> None:
    if (
        not branch
        or branch.startswith(("-", "/"))
        or branch.endswith(("/", ".lock"))
        or ".." in branch
        or re.search(r"[\s~^:?*\[\\]|@\{", branch)
    ):
        raise RepoError(f"invalid branch name {branch!r}: use a plain git branch name, e.g. main")


def _missing_branch(url: str, branch: str, heads: dict[str, str]) -> RepoError:
    known = ", ".join(sorted(heads)[:5]) or "none"
    more = " …" if len(heads) > 5 else ""
    return RepoError(
        f"branch {branch!r} not found in {_display(url)} (branches: {known}{more}): "
        "set branch to one of them"
    )


def _display(url: str) -> str:
    return url if _SCP_LIKE.fullmatch(url) else redact(url)


def _scrub(text: str) -> str:
    return re.sub(r"(https?|ssh)://[^/\s@]+@", r"\1://***@", text)


def _abs(path: str) -> str:
    return str(Path(path).expanduser().absolute())
