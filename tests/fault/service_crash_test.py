#!/usr/bin/python3
"""Each service SIGKILLed in turn under load, then restarted.

- applicant: killed while an offer is in flight (between the seat hold and the state write
  when the timing allows), and again while an accept is in flight (between the seat
  confirmation and the state write);
- catalog: killed under load (the applicant's seat calls fail, then recover);
- notification: killed mid-batch while application events stream in (pending entries are
  reclaimed from the dead consumer after --claim_idle);
- matching: killed under load (it follows the event streams for its caches).

After each restart the load continues. At the end, calls of unknown outcome are settled the
way a client would (read, retry), and the consistency checker must pass: no seat held past
its expiry once swept, confirmed seats and accepted applications agree, no application
offered twice, no seat count above capacity, exactly one inbox entry per application event.
"""

import sys
import time

from faultlib import (Catalog, FaultStack, HealthMonitor, RedisServer, Workload, LONG,
                      Resp, bin_dir_from_argv, create_applicants, kill_on_seat_script, log,
                      print_calls, report_failures, tear_down, text, wait_until)
from consistency_check import check, check_eventually

OFFER_SECONDS = 6  # offers lapse quickly, so that expiry, release and sweeping all run


def kill_at_seat_step(stack, redis_addr, argc, load=None):
    """SIGKILLs the applicant the moment the catalog runs a seat script for one of its
    applications (HoldSeat: argc 9, ConfirmSeat: argc 8): the applicant is then waiting for
    the seat and has not written the application's new state."""
    proc = stack.proc_of("applicant")
    matched = kill_on_seat_script(redis_addr, argc, proc.pid)
    proc.wait()
    rid, sid, holder = matched.split()
    if load is not None:
        # This client gives up on its offer: the hold must lapse and be swept by itself.
        with load.mu:
            load.abandoned.add(holder)
    with Resp(redis_addr) as r:
        seat = r("HGET", f"cat:seat:{rid}:{sid}:holders", holder)
        state = r("HGET", f"app:application:{holder.split('/', 1)[1]}", "state")
    log(f"applicant SIGKILLed at the seat script of {holder}: seat {seat}, state {state}")
    return time.monotonic(), holder, text(seat or b""), text(state or b"")


def publish_round_killing_matching(stack, catalog, applicants, redis_addr):
    """Runs a placement round over three new sessions and SIGKILLs the matching service at
    the first seat hold of PublishRound (publish_concurrency 1, so the round is half
    published), restarts it and retries the publish until it completes."""
    import datetime
    import random
    import threading
    from faultlib import answered, arm_seat_trigger, date_in, http_call, must, query
    base, admin = stack.base, catalog.admin
    rot = catalog.rotation.split("/")[1]
    sessions = []
    for i in range(3):
        sid = f"round{i}"
        must(answered(base, "POST", query(f"/v1/rotations/{rot}/sessions", sessionId=sid), {
            "startDate": date_in(500 + 30 * i), "endDate": date_in(528 + 30 * i),
            "applicationDeadline": date_in(30), "capacity": 8}, catalog.coordinator),
            "create round session")
        sessions.append(f"{catalog.rotation}/sessions/{sid}")
    deadline = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    must(answered(base, "POST", query("/v1/rounds", roundId="fault-round"), {
        "displayName": "Fault round", "sessions": sessions,
        "rankDeadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"), "seed": "7",
        "maxRanksPerApplicant": 3}, admin), "create round")
    rng = random.Random(3)
    for aid, tok in applicants:
        order = sessions[:]
        rng.shuffle(order)
        must(answered(base, "POST", "/v1/rounds/fault-round/rankLists",
                       {"applicant": f"applicants/{aid}", "sessions": order}, tok), "rank list")
    must(answered(base, "POST", "/v1/rounds/fault-round:run", {}, admin), "run round")

    matching = stack.proc_of("matching")
    trigger = arm_seat_trigger(redis_addr, 9, matching.pid, session_prefix="round")
    first = {}
    publisher = threading.Thread(target=lambda: first.update(
        r=http_call(base, "POST", "/v1/rounds/fault-round:publish", {}, admin)))
    t_kill = time.monotonic()
    publisher.start()
    kill_on_seat_script(redis_addr, 9, matching.pid, proc=trigger)
    matching.wait()
    publisher.join()
    with Resp(redis_addr) as r:
        offered_at_kill = sum(r("HLEN", f"cat:seat:{rot}:round{i}:holders") for i in range(3))
    stack.restart("matching")
    wait_until("matching is SERVING", lambda: stack.health("matching") == "SERVING")
    attempts = []

    def publish():
        status, body = http_call(base, "POST", "/v1/rounds/fault-round:publish", {}, admin)
        attempts.append(status)
        return status == 200 and body

    wait_until("the round is published after the restart", publish, interval=0.5)
    t_done = time.monotonic()
    round_ = must(http_call(base, "GET", "/v1/rounds/fault-round", None, admin), "get round")
    with Resp(redis_addr) as r:
        round_applications = sum(r("ZCARD", f"app:idx:session:{s}") for s in sessions)
    return {"round_applications": round_applications,"first_publish_status": first["r"][0], "seats_held_at_kill": offered_at_kill,
            "publish_retries": attempts, "kill_to_published_s": round(t_done - t_kill, 2),
            "state": round_.get("state"), "stats": round_.get("stats")}


def kill_during(stack, load, service, op, delay):
    """SIGKILLs `service` `delay` seconds after a call of `op` is seen in flight (the seat
    step comes after the application is read, the state write after the seat step)."""
    deadline = time.monotonic() + 20
    while load.in_flight(op) == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    t = time.monotonic()
    stack.kill9(service)
    return t


def main():
    bin_dir = bin_dir_from_argv()
    started = time.monotonic()
    redis = RedisServer("svc").start()
    stack = FaultStack(bin_dir, redis.addr, env={
        "CLERKSHIP_SEAT_SWEEP_INTERVAL": "200ms",
        "CLERKSHIP_HOLD_GRACE": "2s",
        "CLERKSHIP_EXPIRY_SCAN_INTERVAL": "300ms",
        "CLERKSHIP_CLAIM_IDLE": "3s",
        "CLERKSHIP_CLAIM_INTERVAL": "500ms",
        "CLERKSHIP_PUBLISH_CONCURRENCY": "1",
        "CLERKSHIP_MATCHED_OFFER_LIFETIME": f"{OFFER_SECONDS}s",
    })
    monitor = None
    ok = False
    figures = []
    try:
        stack.start()
        catalog = Catalog(stack, sessions=10, capacity=12)
        applicants = create_applicants(stack, 30)
        monitor = HealthMonitor(stack, interval=0.2).start()
        wait_until("every service is SERVING", lambda: monitor.all("SERVING"))
        load = Workload(stack, catalog, applicants, workers=4, pause=0.03,
                        offer_expire_seconds=OFFER_SECONDS).start()
        wait_until("30 writes are acknowledged", lambda: load.acked_count() >= 30)

        plan = [("applicant", "offer", None), ("applicant", "accept", None),
                ("applicant", "offer", 0.004), ("catalog", "offer", 0.004),
                ("notification", "submit", 0), ("matching", "submit", 0)]
        snapshots = []
        orphan = None
        for service, op, delay in plan:
            if service == "applicant" and delay is None:
                t_kill, holder, seat, state = kill_at_seat_step(
                    stack, redis.addr, 9 if op == "offer" else 8,
                    load if op == "offer" else None)
                if op == "offer":
                    orphan = (holder, seat, state)
                op = "hold" if op == "offer" else "confirm"
                log(f"applicant SIGKILLed right after its seat {op}")
            else:
                t_kill = kill_during(stack, load, service, op, delay)
                log(f"{service} SIGKILLed during a {op}")
            # What the crash left behind, before anything repairs it.
            violations, facts = check(redis.addr)
            snapshots.append((service, op, violations, facts["orphan_holds"]))
            stack.restart(service)
            t_up = time.monotonic()
            wait_until(f"{service} is SERVING", lambda: stack.health(service) == "SERVING")
            t_serving = time.monotonic()
            wait_until("15 more writes are acknowledged after the restart",
                       lambda: sum(1 for c in load.calls_since(t_serving) if c.ok) >= 15)
            failed = [c for c in load.calls_since(t_kill - 1)
                      if c.end >= t_kill and c.end <= t_serving and not c.ok and
                      (c.status >= 500 or c.status <= 0)]
            first_ok = min((c.end for c in load.calls_since(t_up) if c.ok), default=None)
            figures.append((service, op, len(failed), t_serving - t_kill,
                            None if first_ok is None else first_ok - t_kill))
        load.stop()
        round_figures = publish_round_killing_matching(stack, catalog, applicants, redis.addr)
        log(f"matching SIGKILLed while publishing a round: {round_figures}")

        resolved = load.settle()
        # Offers lapse after OFFER_SECONDS, holds HOLD_GRACE later; then the sweeper and the
        # release outbox have to catch up, and the notification consumer drain its backlog.
        violations, facts, waited = check_eventually(redis.addr, expect_notifications=True,
                                                     timeout=LONG)
        # Then every offer left open lapses (OFFER_SECONDS), its hold HOLD_GRACE later: the
        # expiry scheduler, the release outbox and the sweeper must leave no seat held.
        t0 = time.monotonic()
        wait_until("every open offer has lapsed and no seat is held", lambda: (
            lambda f: f["held_seats"] == 0 and "OFFERED" not in f["by_state"])(
                check(redis.addr)[1]), timeout=LONG, interval=0.5)
        lapse_wait = time.monotonic() - t0
        orphan_hit = orphan[1].startswith("H ") and orphan[2] == "SUBMITTED"
        with Resp(redis.addr) as r:
            app_id = orphan[0].split("/", 1)[1]
            session = text(r("HGET", f"app:application:{app_id}", "session") or b"")
            orphan_state = text(r("HGET", f"app:application:{app_id}", "state") or b"")
            _, rid, _, sid = session.split("/")
            orphan_seat = r("HGET", f"cat:seat:{rid}:{sid}:holders", orphan[0])
        lapsed_violations, lapsed_facts = check(redis.addr, expect_notifications=True)
        violations += lapsed_violations
        deadletters = 0
        from faultlib import redis_once
        try:
            deadletters = redis_once(redis.addr, "XLEN", "ntf:deadletter")
        except Exception:  # noqa: BLE001 (figure only)
            pass

        log("figures:")
        for service, op, failed, down, first_ok in figures:
            log(f"  {service:12s} killed during {op:6s}: {failed} failed requests, "
                f"kill -> SERVING again {down:.2f}s, kill -> next acknowledged write "
                f"{'n/a' if first_ok is None else f'{first_ok:.2f}s'}")
        for service, op, found, orphans in snapshots:
            kinds = sorted({line.split(':', 1)[0] + ': ' + _shape(line) for line in found})
            log(f"  right after killing {service} during {op}: {orphans} holds without an "
                f"offer, {len(found)} disagreements {kinds if kinds else ''}")
        log(f"  after every offer lapsed: {lapsed_facts} (waited {lapse_wait:.1f}s)")
        log(f"  the offer killed between hold and state write ({orphan[0]}): "
            f"{'hit' if orphan_hit else 'missed (the state write won the race)'}; "
            f"now {orphan_state}, seat record {orphan_seat}")
        log(f"  unknown outcomes settled by retry: {resolved}")
        log(f"  dead-lettered notification events: {deadletters}")
        log(f"  consistency: {facts} (checker converged in {waited:.1f}s)")
        print_calls("all", [c for c in load.calls if not c.ok])
        log(f"  total run time {time.monotonic() - started:.1f}s")

        errors = []
        if orphan_hit and (orphan_state != "SUBMITTED" or orphan_seat is not None):
            errors.append(f"the abandoned hold of {orphan[0]} did not lapse: state "
                          f"{orphan_state}, seat {orphan_seat}")
        stats = round_figures["stats"] or {}
        if round_figures["state"] != "PUBLISHED" or \
                round_figures["round_applications"] != stats.get("matched") or \
                stats.get("offersCreated") != stats.get("matched"):
            errors.append(f"the round was not published once per match: {round_figures}")
        if violations:
            errors.append("consistency:\n    " + "\n    ".join(violations[:30]))
        if deadletters:
            errors.append(f"{deadletters} events were dead-lettered")
        hung = [c for c in load.calls if c.status in (504, -1)]
        if hung:
            errors.append(f"{len(hung)} calls hung until their deadline")
        unexpected_exits = {n: c for n, c in stack.exit_codes().items() if c != -9}
        if unexpected_exits:
            errors.append(f"services exited by themselves: {unexpected_exits}")
        ok = report_failures(errors, stack)
    finally:
        status = tear_down(ok, stack, [redis], monitor)
    return status


def _shape(line):
    # "agree: CONFIRMED seat in ... for applications/x in state OFFERED" -> a short kind
    for key in ("CONFIRMED seat", "live hold", "no CONFIRMED seat", "holds no seat",
                "still has seat", "past its expiry", "overbooked", "offered", "notifications"):
        if key in line:
            return key + (" (state " + line.rsplit("state ", 1)[1] + ")" if "state " in line
                          else "")
    return line[:60]


if __name__ == "__main__":
    sys.exit(main())
