#!/usr/bin/python3
"""Redis SIGKILLed under load and restarted from its AOF (appendfsync always).

Proves: every write the platform acknowledged is there after the restart; while Redis is
down calls fail fast with 503 (UNAVAILABLE) and none hangs until its deadline; every service
reports NOT_SERVING and returns to SERVING by itself; the stores agree afterwards
(consistency_check). Then Redis hangs (SIGSTOP) for a few seconds: calls end in 503 after the
Redis command deadline instead of hanging. Prints the failed requests and the outage windows.
"""

import signal
import sys
import time

from faultlib import (Catalog, FaultStack, HealthMonitor, RedisServer, Workload,
                      bin_dir_from_argv, check_acked_present, create_applicants, log,
                      outage_figures, print_calls, report_failures, tear_down, wait_until)
from consistency_check import check_eventually

OUTAGE_SECONDS = 2.0
STALL_SECONDS = 3.0


def main():
    bin_dir = bin_dir_from_argv()
    started = time.monotonic()
    redis = RedisServer("aof").start()
    stack = FaultStack(bin_dir, redis.addr, env={"CLERKSHIP_SEAT_SWEEP_INTERVAL": "200ms"})
    monitor = None
    ok = False
    try:
        stack.start()
        catalog = Catalog(stack, sessions=10, capacity=12)
        applicants = create_applicants(stack, 30)
        monitor = HealthMonitor(stack).start()
        wait_until("every service is SERVING", lambda: monitor.all("SERVING"))
        load = Workload(stack, catalog, applicants, workers=4, pause=0.03).start()
        wait_until("40 writes are acknowledged", lambda: load.acked_count() >= 40)

        acked_before = load.acked_count()
        t_kill = time.monotonic()
        redis.kill9()
        log(f"redis SIGKILLed after {acked_before} acknowledged writes")
        wait_until("every service reports NOT_SERVING", lambda: monitor.all("NOT_SERVING"))
        wait_until("clients have seen failures",
                   lambda: sum(1 for c in load.calls_since(t_kill) if not c.ok) >= 10)
        # The outage itself lasts a while, long enough for the reconnect backoff to grow.
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - t_kill)))
        t_restart = time.monotonic()
        redis.start()
        t_back = time.monotonic()
        log(f"redis restarted from its AOF after {t_back - t_kill:.2f}s down")
        wait_until("every service is SERVING again", lambda: monitor.all("SERVING"))
        t_serving = time.monotonic()
        wait_until("30 more writes are acknowledged",
                   lambda: sum(1 for c in load.calls_since(t_back) if c.ok) >= 30)

        # Then Redis hangs instead of dying (SIGSTOP): commands time out after --redis_timeout
        # (2 s) and calls must still end in 503 well before their deadline, not hang.
        t_stop = time.monotonic()
        redis.proc.send_signal(signal.SIGSTOP)
        wait_until("clients have seen failures while redis hangs",
                   lambda: sum(1 for c in load.calls_since(t_stop) if not c.ok) >= 5)
        time.sleep(max(0.0, STALL_SECONDS - (time.monotonic() - t_stop)))
        redis.proc.send_signal(signal.SIGCONT)
        t_cont = time.monotonic()
        wait_until("every service is SERVING after the stall", lambda: monitor.all("SERVING"))
        wait_until("30 more writes are acknowledged after the stall",
                   lambda: sum(1 for c in load.calls_since(t_cont) if c.ok) >= 30)
        stall_calls = [c for c in load.calls if c.end >= t_stop and c.start <= t_cont]
        stall_not_serving = monitor.first("NOT_SERVING", t_stop)
        load.stop()

        # 1. Nothing acknowledged is lost.
        missing = check_acked_present(redis.addr, load.acked)
        # 2. During the outage, failures are fast UNAVAILABLEs, never hangs or other errors.
        outage_calls = [c for c in load.calls if c.end >= t_kill and c.start <= t_serving]
        failed, first_ok, last_fail = outage_figures(load.calls, t_kill, t_back)
        wrong = [c for c in outage_calls + stall_calls if not c.ok and c.status not in (503,)
                 and (c.status >= 500 or c.status <= 0)]
        hung = [c for c in outage_calls + stall_calls if c.status in (504, -1)]
        # 3. Health.
        not_serving = monitor.first("NOT_SERVING", t_kill)
        serving = monitor.first("SERVING", t_restart)
        # 4. Settle calls of unknown outcome (like a client would), then the checker.
        resolved = load.settle()
        violations, facts, waited = check_eventually(redis.addr)

        log("figures:")
        log(f"  acknowledged writes: {len(load.acked)} applications "
            f"({load.acked_count()} acknowledged calls); missing after restart: {len(missing)}")
        log(f"  failed requests (5xx or transport) from the kill on: {len(failed)}; "
            f"unknown outcomes settled by retry: {resolved}")
        log(f"  redis down (kill -> restarted and loaded): {t_back - t_kill:.2f}s")
        log("  NOT_SERVING after the kill: " + ", ".join(
            f"{n} +{t - t_kill:.2f}s" for n, t in sorted(not_serving.items())))
        log("  SERVING after the restart: " + ", ".join(
            f"{n} +{t - t_back:.2f}s" for n, t in sorted(serving.items())))
        if first_ok is not None:
            log(f"  client-visible outage (kill -> first acknowledged write after restart): "
                f"{first_ok - t_kill:.2f}s")
        print_calls("during outage", [c for c in outage_calls if not c.ok])
        if outage_calls:
            log(f"  slowest call during the outage: "
                f"{max(c.seconds for c in outage_calls):.3f}s (deadline {10}s)")
        log(f"  redis stalled (SIGSTOP) for {t_cont - t_stop:.2f}s: "
            f"{sum(1 for c in stall_calls if not c.ok)} failed calls, slowest call "
            f"{max(c.seconds for c in stall_calls):.2f}s; NOT_SERVING seen from: "
            + (", ".join(f"{n} +{t - t_stop:.2f}s" for n, t in sorted(stall_not_serving.items()))
               or "none"))
        print_calls("during stall", [c for c in stall_calls if not c.ok])
        log(f"  consistency: {facts} (checker converged in {waited:.1f}s)")
        log(f"  total run time {time.monotonic() - started:.1f}s")

        errors = []
        if missing:
            errors.append(f"acknowledged writes lost: {missing[:10]}")
        if wrong:
            errors.append("failures other than 503 during the outage: " +
                          ", ".join(f"{c.op} {c.status} {c.body}" for c in wrong[:10]))
        if hung:
            errors.append(f"{len(hung)} calls hung until their deadline")
        if set(not_serving) != set(stack.SERVICES):
            errors.append(f"not every service reported NOT_SERVING: {not_serving}")
        if violations:
            errors.append("consistency:\n    " + "\n    ".join(violations[:30]))
        if stack.exit_codes():
            errors.append(f"services exited: {stack.exit_codes()}")
        ok = report_failures(errors, stack)
    finally:
        status = tear_down(ok, stack, [redis], monitor)
    return status


if __name__ == "__main__":
    sys.exit(main())
