"""ECS's service throttle logic on data: only tasks that never reach RUNNING are throttled."""

from __future__ import annotations

from ecs_local.throttle import CRASH_RESTART_GAP, START_BACKOFF_MAX, ServiceThrottle


def test_tasks_that_never_start_are_throttled_ever_longer_up_to_27_minutes() -> None:
    throttle = ServiceThrottle()
    throttle.deployment("s", "td:1")
    began = [throttle.task_failed("s", reached_running=False, now=0.0) for _ in range(3)]
    assert began == [False, True, False]  # the event once, when it repeats
    assert not throttle.may_start("s", 1.9) and throttle.may_start("s", 2.0)  # 0.5, 1, 2 s
    for _ in range(30):
        throttle.task_failed("s", reached_running=False, now=0.0)
    assert throttle.next_wake(0.0) == START_BACKOFF_MAX


def test_a_task_that_ran_and_exited_is_replaced_without_throttling() -> None:
    throttle = ServiceThrottle()
    for _ in range(10):
        assert throttle.task_failed("s", reached_running=True, now=100.0) is False
    assert throttle.next_wake(100.0) == CRASH_RESTART_GAP
    assert throttle.may_start("s", 100.0 + CRASH_RESTART_GAP)


def test_a_new_task_definition_ends_the_throttle_at_once() -> None:
    throttle = ServiceThrottle()
    throttle.deployment("s", "td:1")
    for _ in range(8):
        throttle.task_failed("s", reached_running=False, now=0.0)
    assert not throttle.may_start("s", 60.0)
    throttle.deployment("s", "td:1")
    assert not throttle.may_start("s", 60.0)
    throttle.deployment("s", "td:2")
    assert throttle.may_start("s", 0.0)
    assert throttle.task_failed("s", reached_running=False, now=0.0) is False  # counts afresh


def test_a_running_task_resets_the_count_and_the_event() -> None:
    throttle = ServiceThrottle()
    throttle.task_failed("s", reached_running=False, now=0.0)
    throttle.task_failed("s", reached_running=False, now=0.0)
    throttle.task_running("s")
    assert throttle.task_failed("s", reached_running=False, now=10.0) is False
    assert throttle.task_failed("s", reached_running=False, now=10.0) is True
