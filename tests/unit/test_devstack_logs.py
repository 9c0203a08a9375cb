from __future__ import annotations

from pathlib import Path

from repository_manager.devstack.logs import follow


def test_history_is_the_last_lines_of_each_file_in_order(tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    b = tmp_path / "b.log"
    a.write_text("1\n2\n3\n")
    b.write_text("x\n")
    lines = list(follow({"a": a, "b": b}, lines=2, follow=False))
    assert lines == [("a", "2"), ("a", "3"), ("b", "x")]


def test_missing_file_yields_nothing(tmp_path: Path) -> None:
    assert list(follow({"a": tmp_path / "none.log"}, lines=5, follow=False)) == []


def test_follow_yields_lines_appended_later(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("old\n")
    stream = follow({"a": log}, lines=0, follow=True)
    with open(log, "a") as handle:
        handle.write("new line\npartial")
    assert next(stream) == ("a", "new line")
    with open(log, "a") as handle:
        handle.write(" done\n")
    assert next(stream) == ("a", "partial done")
