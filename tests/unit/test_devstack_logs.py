from __future__ import annotations

from pathlib import Path

from repository_manager.devstack.logs import FileSource, follow


def test_history_is_the_last_lines_of_each_file_in_order(tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    b = tmp_path / "b.log"
    a.write_text("1\n2\n3\n")
    b.write_text("x\n")
    sources = [FileSource("a", a), FileSource("b", b)]
    assert list(follow(sources, lines=2, follow=False)) == [("a", "2"), ("a", "3"), ("b", "x")]


def test_missing_file_yields_nothing(tmp_path: Path) -> None:
    assert list(follow([FileSource("a", tmp_path / "none.log")], lines=5, follow=False)) == []


def test_follow_yields_lines_appended_later(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("old\n")
    stream = follow([FileSource("a", log)], lines=0, follow=True, interval=0.01)
    with open(log, "a") as handle:
        handle.write("new line\npartial")
    assert next(stream) == ("a", "new line")
    with open(log, "a") as handle:
        handle.write(" done\n")
    assert next(stream) == ("a", "partial done")


def test_a_truncated_file_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("a long first line\n")
    source = FileSource("a", log)
    source.history(5)
    log.write_text("new\n")
    assert source.poll() == ["new"]
