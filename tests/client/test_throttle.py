"""Bandwidth limits: the token bucket, the meter, the weekly schedule and rate text."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as clock_time

import pytest

from alu_client.core.transfers import throttle as throttle_module
from alu_client.core.transfers.base import Control, Stopped
from alu_client.core.transfers.throttle import (
    MAX_WAIT_SLICE,
    Meter,
    RateLimiter,
    Schedule,
    ScheduleRule,
    format_rate,
    parse_rate,
)
from tests.support.waiting import wait_until

MB = 1_000_000


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        #: called after every sleep (stands in for another thread acting meanwhile)
        self.after_sleep: Callable[[], None] = lambda: None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.after_sleep()


def fake_limiter(rate: float | None, clock: FakeClock, burst_s: float = 0.25) -> RateLimiter:
    return RateLimiter(rate, burst_s=burst_s, clock=clock, sleep=clock.sleep)


# --- RateLimiter --------------------------------------------------------------------------------


def test_one_mb_per_second_passes_five_mb_in_five_seconds() -> None:
    clock = FakeClock()
    limiter = fake_limiter(1 * MB, clock)
    start = clock.now
    for _ in range(80):
        limiter.acquire(62_500)
    elapsed = clock.now - start
    assert elapsed == pytest.approx(5.0, rel=0.05)
    assert max(clock.sleeps) <= MAX_WAIT_SLICE


def test_a_block_bigger_than_the_bucket_still_passes() -> None:
    clock = FakeClock()
    limiter = fake_limiter(1 * MB, clock)  # bucket: 250 kB
    start = clock.now
    limiter.acquire(3 * MB)
    assert clock.now - start == pytest.approx(3.0, rel=0.02)
    assert max(clock.sleeps) <= MAX_WAIT_SLICE  # waited in slices, not one long sleep


def test_after_idle_time_the_burst_is_at_most_burst_s_worth() -> None:
    clock = FakeClock()
    limiter = fake_limiter(1 * MB, clock, burst_s=0.25)
    clock.now += 60  # idle for a minute: the bucket fills to 250 kB, no more
    start = clock.now
    limiter.acquire(250_000)
    assert clock.now == start  # the burst passes at once
    limiter.acquire(1 * MB)
    assert clock.now - start == pytest.approx(1.0, rel=0.02)


def test_unlimited_never_waits_and_zero_means_unlimited() -> None:
    clock = FakeClock()
    for rate in (None, 0, 0.0, float("inf")):
        limiter = fake_limiter(rate, clock)
        assert limiter.rate_bps is None
        limiter.acquire(10**12)
    assert clock.sleeps == []


def test_invalid_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        RateLimiter(-1)
    limiter = RateLimiter(1000)
    with pytest.raises(ValueError, match="negative"):
        limiter.rate_bps = float("nan")
    with pytest.raises(ValueError, match="burst_s"):
        RateLimiter(1000, burst_s=-1)
    assert limiter.rate_bps == 1000


def test_lowering_the_rate_mid_wait_applies_to_the_rest_at_once() -> None:
    clock = FakeClock()
    limiter = fake_limiter(1 * MB, clock)
    start = clock.now
    changed_after: list[float] = []

    def slow_down() -> None:
        if clock.now - start >= 0.5 and not changed_after:
            limiter.rate_bps = 250_000  # "another thread" lowers it after about 0.5 s
            changed_after.append(clock.now - start)

    clock.after_sleep = slow_down
    limiter.acquire(1 * MB)
    # what passed at 1 MB/s until the change, the rest at 250 kB/s
    (t,) = changed_after
    assert 0.5 <= t <= 0.5 + MAX_WAIT_SLICE
    assert clock.now - start == pytest.approx(t + (1 * MB - t * MB) / 250_000, rel=0.02)
    assert clock.now - start > 2.0  # at the old rate it would have taken 1 s


def test_callers_share_the_rate_in_the_order_they_asked() -> None:
    clock = FakeClock()
    limiter = fake_limiter(1 * MB, clock)
    first, second = limiter.reserve(500_000), limiter.reserve(500_000)
    start = clock.now
    limiter.wait_for(first)
    assert clock.now - start == pytest.approx(0.5, rel=0.02)
    limiter.wait_for(second)
    assert clock.now - start == pytest.approx(1.0, rel=0.02)


def test_three_threads_sharing_two_mb_per_second_get_two_mb_per_second() -> None:
    rate = 2 * MB
    limiter = RateLimiter(rate)
    totals = [0, 0, 0]
    start = time.monotonic()
    deadline = start + 1.5

    def worker(index: int) -> None:
        while time.monotonic() < deadline:
            limiter.acquire(32_768)
            totals[index] += 32_768

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    elapsed = time.monotonic() - start
    assert not any(t.is_alive() for t in threads)
    measured = sum(totals) / elapsed
    # never over the limit (what the limiter is for); under it only by the threads' own pace
    # (a busy machine can starve them: a wide lower bound, not a speed target)
    assert measured <= rate * 1.15
    assert measured >= rate * 0.4
    assert min(totals) >= 0.2 * sum(totals)  # nobody starved


def _blocked_acquire(
    limiter: RateLimiter, nbytes: int, control: Control | None = None
) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            limiter.acquire(nbytes, control)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert wait_until(lambda: limiter.waiting == 1), "the caller never blocked"
    assert not done.is_set()
    return thread, done, errors


def test_switching_to_unlimited_releases_a_blocked_caller_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # its waits are cut in slices (MAX_WAIT_SLICE); made a minute long here, a caller left to
    # its next slice would sleep on: released within seconds, it was woken by the change
    monkeypatch.setattr(throttle_module, "MAX_WAIT_SLICE", 60.0)
    limiter = RateLimiter(1000)  # 1 MB at 1 kB/s: a quarter of an hour
    thread, done, errors = _blocked_acquire(limiter, 1 * MB)
    limiter.rate_bps = None
    assert done.wait(10.0)
    thread.join(1)
    assert errors == []
    assert limiter.waiting == 0


def test_raising_the_rate_releases_a_blocked_caller() -> None:
    limiter = RateLimiter(1000)
    thread, done, errors = _blocked_acquire(limiter, 1 * MB)
    limiter.rate_bps = 1e9
    assert done.wait(1.0)
    thread.join(1)
    assert errors == []


def test_a_stop_raises_stopped_within_half_a_second_while_blocked() -> None:
    limiter = RateLimiter(1000)
    control = Control()
    thread, done, errors = _blocked_acquire(limiter, 1 * MB, control)
    started = time.monotonic()
    control.stop("pause")
    assert done.wait(2.0)
    assert time.monotonic() - started < 0.5
    thread.join(1)
    assert len(errors) == 1
    assert isinstance(errors[0], Stopped)
    assert errors[0].reason == "pause"
    assert limiter.waiting == 0
    assert control._on_stop == []  # the wake-up hook was unregistered


def test_a_stopped_control_raises_before_any_wait() -> None:
    clock = FakeClock()
    limiter = fake_limiter(1000, clock)
    control = Control()
    control.stop("cancel")
    with pytest.raises(Stopped, match="cancel"):
        limiter.acquire(1 * MB, control)
    assert clock.sleeps == []


# --- Meter --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("global_rate", "own_rate", "seconds"),
    [
        (1 * MB, 250_000, 4.0),  # the transfer's own limit is lower
        (250_000, 1 * MB, 4.0),  # the global limit is lower
        (250_000, 250_000, 4.0),  # equal: the waits overlap, they do not add up
        (None, 500_000, 2.0),
        (None, None, 0.0),
    ],
)
def test_meter_holds_to_the_lowest_limit_and_counts_bytes(
    global_rate: float | None, own_rate: float | None, seconds: float
) -> None:
    clock = FakeClock()
    counted: list[int] = []
    meter = Meter(
        [fake_limiter(global_rate, clock), fake_limiter(own_rate, clock)], Control(), counted.append
    )
    start = clock.now
    for _ in range(16):
        meter(62_500)
    assert clock.now - start == pytest.approx(seconds, rel=0.05, abs=0.01)
    assert sum(counted) == 1 * MB
    assert meter.total == 1 * MB


def test_meter_charges_a_limiter_listed_twice_once() -> None:
    clock = FakeClock()
    shared = fake_limiter(1 * MB, clock)
    meter = Meter([shared, shared], Control(), lambda _n: None)
    start = clock.now
    meter(1 * MB)
    assert clock.now - start == pytest.approx(1.0, rel=0.02)
    assert len(meter.limiters) == 1


def test_meter_shares_the_global_limit_between_transfers() -> None:
    clock = FakeClock()
    down = fake_limiter(1 * MB, clock)
    a = Meter([down, fake_limiter(None, clock)], Control(), lambda _n: None)
    b = Meter([down, fake_limiter(None, clock)], Control(), lambda _n: None)
    start = clock.now
    for _ in range(8):
        a(62_500)
        b(62_500)
    assert clock.now - start == pytest.approx(1.0, rel=0.05)
    assert a.total == b.total == 500_000


def test_meter_raises_stopped_and_counts_nothing_once_stopped() -> None:
    clock = FakeClock()
    control = Control()
    counted: list[int] = []
    meter = Meter([fake_limiter(1 * MB, clock)], control, counted.append)
    meter(1000)
    control.stop("cancel")
    with pytest.raises(Stopped):
        meter(1000)
    assert counted == [1000]
    assert meter.total == 1000


def test_meter_is_thread_safe_in_counting() -> None:
    meter = Meter([RateLimiter(None)], Control(), lambda _n: None)

    def work() -> None:
        for _ in range(2000):
            meter(3)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert meter.total == 4 * 2000 * 3


def test_a_block_is_counted_as_it_passes_the_limit_not_all_at_once() -> None:
    # a 256 KiB read at 100 kB/s was counted whole and then waited for: progress moved in
    # steps of 2.6 s, and the speeds shown swung from 9 to 324 kB/s
    clock = FakeClock()
    start = clock.now
    seen: list[tuple[float, int]] = []
    meter = Meter([fake_limiter(100_000, clock)], Control(), lambda n: seen.append((clock.now, n)))
    meter(256 * 1024)
    assert sum(n for _, n in seen) == 256 * 1024
    assert clock.now - start == pytest.approx(256 * 1024 / 100_000, rel=0.05)
    counted = 0
    for at, n in seen:  # never ahead of the rate by more than one slice
        counted += n
        assert counted <= (at - start) * 100_000 + 6000, (at - start, counted)


def test_a_block_stopped_mid_way_is_counted_whole() -> None:
    # its bytes have moved (read from the socket, or out): progress must have them all
    clock = FakeClock()
    control = Control()
    start = clock.now
    clock.after_sleep = lambda: control.stop("pause") if clock.now - start > 0.5 else None
    counted: list[int] = []
    meter = Meter([fake_limiter(100_000, clock)], control, counted.append)
    with pytest.raises(Stopped):
        meter(256 * 1024)
    assert clock.now - start < 1.0
    assert sum(counted) == meter.total == 256 * 1024


def test_several_streams_of_one_transfer_do_not_burst_past_the_limit() -> None:
    # four streams each counted a first 256 KiB read before any wait: 1.8x the limit over
    # the first 5 s (1 MB in the first instant at 250 kB/s)
    control = Control()
    meter = Meter([RateLimiter(250_000)], control, lambda _n: None)

    def stream() -> None:
        try:
            while True:
                meter(256 * 1024)
        except Stopped:
            pass

    threads = [threading.Thread(target=stream, daemon=True) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    wait_until(lambda: time.monotonic() - start >= 0.5, 5, what="half a second")
    at_half_second = meter.total
    control.stop("pause")
    for t in threads:
        t.join(5)
    # a limited meter counts what passes: 0.5 s of the rate, its 0.25 s of burst, one slice
    # per stream held at the stop, and the rest of the four blocks stopped mid-way at the end
    assert at_half_second <= 250_000 * (0.5 + 0.25 + 0.2) + 4 * 12_500, at_half_second
    assert not any(t.is_alive() for t in threads)


def test_transfers_share_a_global_limit_equally_whatever_their_streams() -> None:
    # the limiter serves callers in turn: a download with four streams took four shares and
    # a one-stream flash item one (786 against 210 kB/s under 1 MB/s)
    shared = RateLimiter(2 * MB)
    four = Meter([shared, RateLimiter(None)], Control(), lambda _n: None)
    one = Meter([shared, RateLimiter(None)], Control(), lambda _n: None)
    deadline = time.monotonic() + 2.0

    def stream(meter: Meter) -> None:
        while time.monotonic() < deadline:
            meter(64 * 1024)

    threads = [threading.Thread(target=stream, args=(four,), daemon=True) for _ in range(4)]
    threads.append(threading.Thread(target=stream, args=(one,), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    share = one.total / (one.total + four.total)
    assert 0.35 <= share <= 0.65, (one.total, four.total)


def test_rates_too_slow_to_move_a_file_are_refused() -> None:
    # '--limit 1' was 1 bit/s: 7.9 KB in 10 s, then nothing moved, and nothing said why
    for text in ("1", "0.0001", "7k", "999 B/s"):
        with pytest.raises(ValueError, match="too slow to move a file"):
            parse_rate(text)
    assert parse_rate("8k") == 1000.0
    assert parse_rate("1 KB/s") == 1000.0


# --- Schedule -----------------------------------------------------------------------------------

WEEKDAYS = frozenset(range(5))
WEEKEND = frozenset({5, 6})
# 2024-01-01 was a Monday
MON, TUE, FRI, SAT, SUN = 1, 2, 5, 6, 7


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute)


def office_hours() -> Schedule:
    return Schedule(
        [
            ScheduleRule(WEEKDAYS, clock_time(7), clock_time(19), 250_000.0, 125_000.0),
            ScheduleRule(WEEKEND, clock_time(10), clock_time(14), 1_000_000.0, None),
        ]
    )


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(MON, 10), (250_000.0, 125_000.0)),  # weekday, office hours
        (at(MON, 7, 0), (250_000.0, 125_000.0)),  # start is included
        (at(FRI, 18, 59), (250_000.0, 125_000.0)),
        (at(MON, 19, 0), (None, None)),  # end is not
        (at(TUE, 6, 59), (None, None)),  # early morning: unlimited
        (at(TUE, 23, 30), (None, None)),  # night: unlimited
        (at(SAT, 12), (1_000_000.0, None)),  # weekend rule
        (at(SUN, 9), (None, None)),  # weekend outside its rule
    ],
)
def test_schedule_weekday_night_and_weekend(
    when: datetime, expected: tuple[float | None, float | None]
) -> None:
    assert office_hours().limits_at(when) == expected


def test_schedule_rule_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = ScheduleRule(frozenset({4}), clock_time(22), clock_time(6), 100.0, 50.0)
    schedule = Schedule([friday_night], default_down=9_000.0, default_up=8_000.0)
    assert friday_night.crosses_midnight
    assert schedule.limits_at(at(FRI, 23)) == (100.0, 50.0)
    assert schedule.limits_at(at(SAT, 3)) == (100.0, 50.0)  # after midnight, Saturday
    assert schedule.limits_at(at(SAT, 6)) == (9_000.0, 8_000.0)  # end excluded
    assert schedule.limits_at(at(FRI, 3)) == (9_000.0, 8_000.0)  # that is Thursday's night
    assert schedule.limits_at(at(SAT, 23)) == (9_000.0, 8_000.0)  # Saturday is not listed
    sunday_night = ScheduleRule(frozenset({6}), clock_time(22), clock_time(6), 1.0, 1.0)
    assert Schedule([sunday_night]).limits_at(at(MON, 2)) == (1.0, 1.0)  # wraps the week


def test_schedule_first_matching_rule_wins_and_whole_day_rules() -> None:
    lunch = ScheduleRule(WEEKDAYS, clock_time(12), clock_time(13), 10.0, 10.0)
    all_day = ScheduleRule(WEEKDAYS, clock_time(0), clock_time(0), 20.0, 20.0)
    assert Schedule([lunch, all_day]).limits_at(at(TUE, 12, 30)) == (10.0, 10.0)
    assert Schedule([all_day, lunch]).limits_at(at(TUE, 12, 30)) == (20.0, 20.0)
    assert Schedule([lunch, all_day]).limits_at(at(TUE, 23, 59)) == (20.0, 20.0)
    assert Schedule([lunch, all_day]).limits_at(at(SAT, 12, 30)) == (None, None)


def test_schedule_names_the_rule_in_force() -> None:
    """What the Transfers tab asks to know whether the schedule or the plain limit decides:
    a rule that is unlimited still decides (None from ``limits_at`` alone cannot tell)."""
    weekday, weekend = office_hours().rules
    assert office_hours().rule_at(at(MON, 10)) == weekday
    assert office_hours().rule_at(at(SAT, 12)) == weekend
    assert office_hours().rule_at(at(SAT, 12)).up_bps is None  # unlimited, by the rule
    assert office_hours().rule_at(at(TUE, 23, 30)) is None  # the defaults apply
    assert office_hours().rule_at(at(MON, 10).astimezone()) == weekday


def test_schedule_aware_time_is_read_as_local_wall_clock() -> None:
    naive = at(MON, 10)
    aware = naive.astimezone()  # the same instant, labelled with the local zone
    assert office_hours().limits_at(aware) == office_hours().limits_at(naive)


def test_schedule_rule_describes_itself() -> None:
    rule = ScheduleRule(WEEKDAYS, clock_time(7), clock_time(19), None, None)
    assert rule.describe() == "07:00-19:00 on Mon-Fri"
    assert (
        ScheduleRule(WEEKEND, clock_time(0), clock_time(0), None, None).describe()
        == "00:00-24:00 on Sat, Sun"
    )
    assert (
        ScheduleRule(frozenset(range(7)), clock_time(22), clock_time(6), 1, 1).describe()
        == "22:00-06:00 on every day"
    )


def test_schedule_rule_refuses_bad_days() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        ScheduleRule(frozenset(), clock_time(7), clock_time(19), None, None)
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6"):
        ScheduleRule(frozenset({7}), clock_time(7), clock_time(19), None, None)


def test_schedule_json_round_trip() -> None:
    schedule = Schedule(
        [
            ScheduleRule(WEEKDAYS, clock_time(7), clock_time(19), 250_000.0, 125_000.0),
            ScheduleRule(frozenset({4}), clock_time(22), clock_time(0), None, 1_000.0),
        ],
        default_down=5_000_000.0,
        default_up=None,
    )
    data = json.loads(json.dumps(schedule.to_json()))
    assert data[0] == {
        "days": [0, 1, 2, 3, 4],
        "start": "07:00",
        "end": "19:00",
        "down_bps": 250_000.0,
        "up_bps": 125_000.0,
    }
    assert data[1]["end"] == "24:00"
    assert data[-1] == {"default": True, "down_bps": 5_000_000.0, "up_bps": None}
    again = Schedule.from_json(data)
    assert again == schedule
    assert again.limits_at(at(FRI, 23)) == (None, 1_000.0)
    assert Schedule.from_json(Schedule([]).to_json()) == Schedule([])


def test_schedule_from_json_accepts_human_forms() -> None:
    schedule = Schedule.from_json(
        [{"days": "Mon-Fri", "start": "7:00", "end": "19:00", "down_bps": "2M", "up_bps": "0"}]
    )
    assert schedule.rules[0].days == WEEKDAYS
    assert schedule.rules[0].start == clock_time(7)
    assert schedule.limits_at(at(TUE, 9)) == (250_000.0, None)
    weekend = Schedule.from_json([{"days": ["sat", "Sunday"], "start": "00:00", "end": "00:00"}])
    assert weekend.rules[0].days == WEEKEND
    # a schedule written by hand before limits had a floor still loads (the settings dropped a
    # schedule that does not, whole, for "unlimited")
    slow = Schedule.from_json(
        [{"days": "Mon-Fri", "start": "7:00", "end": "19:00", "down_bps": "4k"}]
    )
    assert slow.limits_at(at(TUE, 9))[0] == 500.0


def _rule(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "days": [0, 1, 2, 3, 4],
        "start": "07:00",
        "end": "19:00",
        "down_bps": 250_000,
        "up_bps": None,
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": []}, "is a list of rules"),
        (["07:00-19:00"], "rule 1 of the bandwidth schedule is not an object"),
        ([_rule(down_bps="fast")], r"rule 1 \(07:00-19:00 on Mon-Fri\): 'down_bps': can't read"),
        ([_rule(), _rule(up_bps=-5)], r"rule 2 \(07:00-19:00 on Mon-Fri\): 'up_bps' must be"),
        ([_rule(end="25:00")], r"'end' must be a time like 07:00 \(or 24:00\), not '25:00'"),
        ([_rule(start="24:00")], "'start' must be a time like 07:00, not '24:00'"),
        ([_rule(days=["Funday"])], "'Funday' is not a day"),
        ([_rule(days=[])], "'days' is empty"),
        ([_rule(days="Fri-Mon")], "runs backwards"),
        ([_rule(days=5)], "'days' must be a list"),
        ([_rule(dwn_bps=1)], "unknown field"),
        ([{"days": [0], "end": "19:00"}], "'start' is missing"),
        ([_rule(down_bps=True)], "'down_bps' must be"),
        (
            [{"default": True, "down_bps": 1}, {"default": True, "up_bps": 1}],
            "more than one default",
        ),
    ],
)
def test_schedule_from_json_explains_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule.from_json(data)


# --- rate text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2M", 250_000.0),  # bare M: megabits (network convention)
        ("2 Mbit/s", 250_000.0),
        ("2Mb", 250_000.0),
        ("2 Mbps", 250_000.0),
        ("500k", 62_500.0),
        ("500 kbit/s", 62_500.0),
        ("1 Gbit/s", 125_000_000.0),
        ("8000", 1_000.0),  # a bare number: bits per second
        ("500 KiB/s", 512_000.0),  # binary prefix, bytes
        ("1.5MB/s", 1_500_000.0),  # decimal prefix, bytes
        ("2 MiB", 2 * 1024 * 1024.0),
        ("500 kB/s", 500_000.0),
        ("3 MBps", 3_000_000.0),
        ("1000 bytes per second", 1000.0),
        ("2 Mo/s", 2_000_000.0),  # French: mégaoctets
        ("  0.5 M  ", 62_500.0),
        (".5M", 62_500.0),
        ("0", None),
        ("0 MB/s", None),
        ("unlimited", None),
        ("Unlimited", None),
        ("none", None),
        ("off", None),
    ],
)
def test_parse_rate(text: str, expected: float | None) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "text", ["", "fast", "M", "2 X", "-1M", "2 Mbit/h", "1,5M", "2 iB", "inf", "nan", "1e400 M"]
)
def test_parse_rate_refuses_junk_clearly(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("bps", "expected"),
    [
        (None, "unlimited"),
        (0, "unlimited"),
        (250_000, "2.0 Mbit/s"),
        (62_500, "500.0 kbit/s"),
        (125_000_000, "1.0 Gbit/s"),
        (10, "80.0 bit/s"),
        (124_995, "1.0 Mbit/s"),  # 999.96 kbit/s rounds up into the next unit
        (1_500_000, "12.0 Mbit/s"),
    ],
)
def test_format_rate(bps: float | None, expected: str) -> None:
    assert format_rate(bps) == expected


@pytest.mark.parametrize("bps", [None, 1250.0, 62_500.0, 250_000.0, 125_000_000.0])
def test_format_then_parse_gives_the_rate_back(bps: float | None) -> None:
    assert parse_rate(format_rate(bps)) == bps
