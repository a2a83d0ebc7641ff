#!/usr/bin/python3
"""Redis master SIGKILLed under load with a replica and three Sentinels on loopback.

The replica replicates through a relay of ours (ReplicationTap), which picks the moment of
the kill: it withholds an acceptance's state write from the replica, and the master dies as
soon as that acceptance's client has its answer, so the failover is certain to lose the write.

Proves: the services find the promoted replica through the Sentinels by themselves (no
service restarts); every acknowledged seat confirmation, application creation and acceptance
survives the failover, because the catalog and the applicant run with --redis_wait_replicas=1
(Redis WAIT after each seat confirmation, application creation and write into or out of
ACCEPTED) — a lost one fails the test; the stores agree afterwards (consistency_check), apart
from the other acknowledged writes (offers, declines) that asynchronous replication may lose,
which are counted and printed. Prints the outage window, the cost of WAIT (ConfirmSeat latency
with and without it, one replica, measured in the same run) and the submit / accept latencies
the clients saw before the kill (both with WAIT).
"""

import os
import signal
import socket
import sys
import threading
import time

from faultlib import (Catalog, FaultStack, GrpcRaw, HealthMonitor, RedisServer, Resp,
                      SERVICE_IDENTITY, Sentinel, Workload, LONG, bin_dir_from_argv,
                      check_acked_present, create_applicants, free_port, log, percentile,
                      print_calls, redis_once, report_failures, seat_request, tear_down, text,
                      wait_until)
from consistency_check import check_eventually

SEAT_SERVICE = "/clerkship.catalog.v1.SeatInventoryService/"

# An acceptance's state write as the master replicates it (Redis 7 replicates a script's
# effects: HSET app:application:{id} ... state ACCEPTED).
ACCEPTED_MARK = b"$5\r\nstate\r\n$8\r\nACCEPTED\r\n"


class ReplicationTap:
    """A TCP relay the replica replicates through. Once armed, it stops relaying at the first
    piece of the replication stream that carries an acceptance's state write, and SIGKILLs the
    master as soon as that acceptance's client has its answer (`answered(name, since)`; before
    the client's retry, which would read the acceptance back from the master): the acceptance is
    on the master only when it dies, exactly the write a failover loses. With WAIT the
    applicant cannot have acknowledged it (no replica has it: UNAVAILABLE after
    --redis_wait_timeout); without WAIT it has, and the acceptance is lost. This makes the
    loss deterministic instead of a rare race between a write and its replication."""

    def __init__(self, master, answered):
        self.master = master
        self.answered = answered
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.armed = threading.Event()
        self.withheld = threading.Event()
        self.fired = threading.Event()
        self.withheld_at = None
        self.fired_at = None
        self.victim = None  # the application whose acceptance was withheld
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            if self.withheld.is_set():  # no resynchronisation past the withheld write
                down.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.master.port), timeout=2)
                up.settimeout(None)
                for sock in (up, down):  # relay at once: WAIT's latency is measured through it
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                down.close()
                continue
            threading.Thread(target=self._pump, args=(up, down, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(down, up, False), daemon=True).start()

    def _pump(self, src, dst, from_master):
        previous = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_master and self.withheld.is_set():
                    continue  # the replica gets nothing more from this master
                seen = previous + data
                if from_master and self.armed.is_set() and ACCEPTED_MARK in seen:
                    at = seen.find(ACCEPTED_MARK)
                    key = seen.rfind(b"app:application:", 0, at)
                    if key >= 0:
                        end = seen.find(b"\r\n", key)
                        self.victim = "applications/" + text(seen[key + 16:end])
                    self.withheld_at = time.monotonic()
                    self.withheld.set()
                    threading.Thread(target=self._kill_when_answered, daemon=True).start()
                    continue
                dst.sendall(data)
                previous = data
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def _kill_when_answered(self):
        # Polls often: the client retries 50 ms after a failure, and that retry must not
        # reach this master. Gives up waiting (the victim unknown, or its call stuck) after
        # a few seconds and kills anyway.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.victim and self.answered(self.victim, self.withheld_at):
                break
            time.sleep(0.001)
        self.fired_at = time.monotonic()
        os.kill(self.master.proc.pid, signal.SIGKILL)
        self.fired.set()


def replication_link_up(replica):
    try:
        info = text(redis_once(replica.addr, "INFO", "replication"))
    except Exception:  # noqa: BLE001
        return False
    return "master_link_status:up" in info


def connected_replicas(server):
    try:
        info = text(redis_once(server.addr, "INFO", "replication"))
    except Exception:  # noqa: BLE001
        return 0
    for line in info.splitlines():
        if line.startswith("connected_slaves:"):
            return int(line.split(":")[1])
    return 0


def sentinels_ready(sentinels):
    for s in sentinels:
        try:
            replicas = redis_once(s.addr, "SENTINEL", "replicas", "mymaster")
            peers = redis_once(s.addr, "SENTINEL", "sentinels", "mymaster")
        except Exception:  # noqa: BLE001
            return False
        if not replicas or len(peers) < len(sentinels) - 1:
            return False
    return True


def measure_wait_cost(stack, bin_dir, catalog, redis_env, rounds=60):
    """ConfirmSeat latency through a catalog that WAITs for one replica and through one that
    does not, alternating, on the same Redis and the same session."""
    import os
    import subprocess
    port = free_port()
    env = dict(os.environ)
    env.update(stack.env)
    env.update(redis_env)
    env["CLERKSHIP_REDIS_WAIT_REPLICAS"] = "0"
    log_path = os.path.join(stack.logs, "catalog-nowait.log")
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([os.path.join(bin_dir, "clerkship-catalog"), f"--port={port}"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    waiting = GrpcRaw(stack.grpc_addr("catalog"), SERVICE_IDENTITY)
    plain = GrpcRaw(f"127.0.0.1:{port}", SERVICE_IDENTITY)
    try:
        from faultlib import grpc_health
        wait_until("the no-WAIT catalog is SERVING",
                   lambda: grpc_health(f"127.0.0.1:{port}") == "SERVING")
        session = catalog.cost_session
        expire = int(time.time()) + 3600
        lat = {"wait": [], "nowait": []}
        holders = []
        for i in range(rounds):
            for kind, client in (("wait", waiting), ("nowait", plain)):
                holder = f"applications/waitcost-{kind}-{i}"
                code, _, _ = client.call(SEAT_SERVICE + "HoldSeat",
                                         seat_request(session, holder, expire))
                assert code == "OK", f"HoldSeat {code}"
                code, _, secs = client.call(SEAT_SERVICE + "ConfirmSeat",
                                            seat_request(session, holder))
                assert code == "OK", f"ConfirmSeat ({kind}) {code}"
                lat[kind].append(secs)
                holders.append(holder)
        for holder in holders:  # give the seats back: they belong to no application
            code, _, _ = plain.call(SEAT_SERVICE + "ReleaseSeat",
                                    seat_request(session, holder, reason="TEST_CLEANUP"))
            assert code == "OK", f"ReleaseSeat {code}"
        return lat
    finally:
        waiting.close()
        plain.close()
        proc.terminate()
        proc.wait()


def main():
    bin_dir = bin_dir_from_argv()
    started = time.monotonic()
    master = RedisServer("master").start()
    answers = {}  # application name -> when its client last had an answer (any)
    tap = ReplicationTap(master, lambda name, since: answers.get(name, 0) >= since)
    replica = RedisServer("replica", replica_of=tap).start()
    wait_until("the replica is in sync", lambda: replication_link_up(replica))
    sentinels = [Sentinel(master).start() for _ in range(3)]
    wait_until("the sentinels know the replica and each other", lambda: sentinels_ready(sentinels))
    redis_env = {
        "CLERKSHIP_REDIS_SENTINELS": ",".join(s.addr for s in sentinels),
        "CLERKSHIP_REDIS_MASTER_NAME": "mymaster",
    }
    # CLERKSHIP_REDIS_WAIT_REPLICAS is --redis_wait_replicas of the catalog (seat
    # confirmations) and of the applicant (creations, acceptances); the other services have
    # no such flag and ignore it.
    stack = FaultStack(bin_dir, master.addr, env=dict(redis_env, **{
        "CLERKSHIP_REDIS_WAIT_REPLICAS": "1",
        "CLERKSHIP_SEAT_SWEEP_INTERVAL": "200ms",
    }))
    monitor = None
    ok = False
    try:
        stack.start()
        pids = {n: p.pid for n, p, _ in stack.procs}
        catalog = Catalog(stack, sessions=10, capacity=12)
        # One more session, only for measuring ConfirmSeat with and without WAIT.
        from faultlib import http_call, must, query, date_in
        must(http_call(stack.base, "POST", query("/v1/rotations/fault-im/sessions",
                                                 sessionId="cost"), {
            "startDate": date_in(400), "endDate": date_in(428),
            "applicationDeadline": date_in(30), "capacity": 1000}, catalog.coordinator),
            "create cost session")
        catalog.cost_session = "rotations/fault-im/sessions/cost"
        lat = measure_wait_cost(stack, bin_dir, catalog, redis_env)
        applicants = create_applicants(stack, 30)

        monitor = HealthMonitor(stack).start()
        wait_until("every service is SERVING", lambda: monitor.all("SERVING"))
        load = Workload(stack, catalog, applicants, workers=4, pause=0.03)
        for hook in ("_ack", "_doubt"):  # note when each application's client got an answer
            def noted(key, value, original=getattr(load, hook)):
                original(key, value)
                answers[key] = time.monotonic()
            setattr(load, hook, noted)
        load.start()
        wait_until("40 writes are acknowledged", lambda: load.acked_count() >= 40)

        tap.armed.set()
        wait_until("an acceptance's state write is withheld from the replica and the master "
                   "SIGKILLed once its client has an answer", tap.fired.is_set, timeout=LONG)
        t_kill = tap.fired_at
        master.kill9()  # reaps it
        log(f"master SIGKILLed {(t_kill - tap.withheld_at) * 1000:.0f} ms after the acceptance "
            f"of {tap.victim} (on it only) was withheld from the replica")
        promoted = wait_until("the sentinels promote the replica",
                              lambda: all(s.master_addr() == replica.addr for s in sentinels) and
                              replica.addr, timeout=LONG)
        t_promoted = time.monotonic()
        log(f"sentinels report {promoted} as master after {t_promoted - t_kill:.2f}s")
        # The old master comes back as a replica of the new one (as an operator or the
        # orchestrator would start it; the Sentinels alone take ~10 s to convert it), so that
        # confirmations can be acknowledged by a replica again.
        master.replica_of = replica
        master.start()
        wait_until("the old master replicates the new one", lambda: connected_replicas(replica) >= 1)
        t_replica_back = time.monotonic()
        wait_until("every service is SERVING", lambda: monitor.all("SERVING"))
        t_serving = time.monotonic()
        wait_until("30 writes are acknowledged after the failover",
                   lambda: sum(1 for c in load.calls_since(t_replica_back) if c.ok) >= 30)
        load.stop()

        restarted = {n: p.pid for n, p, _ in stack.procs if p.poll() is None}
        lost = check_acked_present(replica.addr, load.acked)
        lost_ids = {name.split("/", 1)[1] for name, _, _ in lost}
        # Both WAIT for a replica (applicant --redis_wait_replicas=1), so neither may be lost:
        # an acknowledged acceptance found in an earlier state (or gone), and an acknowledged
        # application that is gone altogether.
        accepted_lost = [x for x in lost if x[1] == "ACCEPTED"]
        created_lost = [x for x in lost if x[2] is None]
        errors = []
        masters = {s.master_addr() for s in sentinels}
        if masters != {replica.addr}:
            # Writes acknowledged by the promoted replica after its promotion may then be
            # gone; say so rather than fail later on a missing application.
            errors.append(f"the Sentinels failed over again: they report {sorted(map(str, masters))}"
                          f", not {replica.addr}")
        try:
            resolved = load.settle()
        except AssertionError as e:  # e.g. the application of an unsettled call is gone
            resolved = "not all"
            errors.append(str(e))
        with Resp(replica.addr) as r:
            victim_state = text(r("HGET", f"app:application:{tap.victim.split('/', 1)[1]}",
                                  "state") or b"") if tap.victim else ""
        violations, facts, waited = check_eventually(replica.addr)
        explained = [v for v in violations
                     if any(f"applications/{i} " in v + " " for i in lost_ids)]
        unexplained = [v for v in violations if v not in explained]
        # Acknowledged acceptances whose seat confirmation is gone: WAIT is meant to prevent it.
        with Resp(replica.addr) as r:
            seats_lost = []
            for name, state in load.acked.items():
                if state != "ACCEPTED":
                    continue
                aid = name.split("/", 1)[1]
                session = text(r("HGET", f"app:application:{aid}", "session") or b"")
                if not session:
                    seats_lost.append(name)
                    continue
                _, rid, _, sid = session.split("/")
                rec = r("HGET", f"cat:seat:{rid}:{sid}:holders", name)
                if rec is None or not text(rec).startswith("C "):
                    seats_lost.append(name)

        failed = [c for c in load.calls if c.end >= t_kill and not c.ok and
                  (c.status >= 500 or c.status <= 0)]
        first_ok = min((c.end for c in load.calls if c.ok and c.start >= t_kill), default=None)
        not_serving = monitor.first("NOT_SERVING", t_kill)
        before_kill = {op: [c.seconds for c in load.calls if c.ok and c.op == op and c.end < t_kill]
                       for op in ("submit", "accept")}
        log("figures:")
        log(f"  WAIT cost, ConfirmSeat through gRPC, one replica, {len(lat['wait'])} each: "
            f"p50 {percentile(lat['nowait'], 50) * 1000:.2f} ms without WAIT, "
            f"{percentile(lat['wait'], 50) * 1000:.2f} ms with WAIT "
            f"(x{percentile(lat['wait'], 50) / percentile(lat['nowait'], 50):.2f}); "
            f"p90 {percentile(lat['nowait'], 90) * 1000:.2f} / "
            f"{percentile(lat['wait'], 90) * 1000:.2f} ms")
        log("  through the gateway before the kill, with WAIT (accept: seat confirmation and "
            "state write each wait): " + "; ".join(
                f"{op} p50 {percentile(v, 50) * 1000:.1f} ms, "
                f"p90 {percentile(v, 90) * 1000:.1f} ms ({len(v)} calls)" for op, v in before_kill.items() if v))
        log(f"  failover: sentinels promoted the replica {t_promoted - t_kill:.2f}s after the "
            f"kill; all services SERVING {t_serving - t_kill:.2f}s after; first acknowledged "
            f"write {'n/a' if first_ok is None else f'{first_ok - t_kill:.2f}s'} after")
        log("  NOT_SERVING after the kill: " + (", ".join(
            f"{n} +{t - t_kill:.2f}s" for n, t in sorted(not_serving.items())) or "none seen"))
        log(f"  failed requests from the kill on: {len(failed)}; unknown outcomes settled: "
            f"{resolved}")
        print_calls("failed", failed)
        log(f"  acknowledged application writes lost by asynchronous replication: {len(lost)} "
            f"of {len(load.acked)} (acceptances {len(accepted_lost)}, creations "
            f"{len(created_lost)}: both must be 0) {lost[:5]}")
        log(f"  acknowledged acceptances without their confirmed seat: {len(seats_lost)}")
        log(f"  the acceptance withheld from the replica: {tap.victim}, acknowledged as "
            f"{load.acked.get(tap.victim)} by the end, {victim_state or 'missing'} after the "
            "failover")
        log(f"  consistency: {facts} (checker converged in {waited:.1f}s); "
            f"{len(explained)} disagreements explained by lost writes: {explained[:5]}")
        log(f"  total run time {time.monotonic() - started:.1f}s")

        if restarted != {n: pid for n, pid in pids.items() if n in restarted} or \
                len(restarted) != len(pids):
            errors.append(f"a service died or was restarted: {pids} -> {restarted}")
        if seats_lost:
            errors.append(f"acknowledged seat confirmations lost: {seats_lost[:10]}")
        if accepted_lost:
            errors.append(f"acknowledged acceptances lost (applicant WAIT): {accepted_lost[:10]}")
        if created_lost:
            errors.append(f"acknowledged applications lost (applicant WAIT): {created_lost[:10]}")
        if unexplained:
            errors.append("consistency:\n    " + "\n    ".join(unexplained[:30]))
        hung = [c for c in load.calls if c.status in (504, -1)]
        if hung:
            errors.append(f"{len(hung)} calls hung until their deadline")
        ok = report_failures(errors, stack)
    finally:
        tap.close()
        status = tear_down(ok, stack, sentinels + [replica, master], monitor)
    return status


if __name__ == "__main__":
    sys.exit(main())
