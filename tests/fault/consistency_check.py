#!/usr/bin/python3
"""Cross-service consistency checker: reads Redis directly and compares what the applicant
service says about applications with the catalog's seat inventory and the notification
service's inboxes.

Usage: consistency_check.py HOST:PORT   (exit status 1 and a list of violations if any)

Key layouts read (see services/catalog/catalog_lua.h, services/applicant/redis_applicant_store.cc,
services/notification/redis_notification_store.cc):
  app:application:{id}        hash: state, session ("rotations/r/sessions/s"), applicant, record
  app:live:{applicant}        hash session -> application id (open applications)
  app:seats:release           zset of application ids whose seat release is still pending
  app:events                  stream, fields type / event (serialized clerkship.events.v1.Event)
  cat:ses:{r}:{s}             hash: capacity, confirmed
  cat:seat:{r}:{s}:holders    hash holder -> "H <hold ms> <expire ms>" | "C <hold ms> <confirm ms>"
  cat:seat:{r}:{s}:expiry     zset holder -> expire ms
  ntf:inbox:{applicant}       zset of notification ids
  ntf:n:{applicant}:{id}      serialized clerkship.notification.v1.Notification
                              (source_event = field 8)

Invariants (each violation is one line of the result):
  seats    confirmed count = CONFIRMED holder records; confirmed + live holds <= capacity
  holds    no HELD record past its expiry (the sweeper removes them; callers wait for it)
  agree    every CONFIRMED seat belongs to an ACCEPTED/COMPLETED application and every
           ACCEPTED/COMPLETED application has a CONFIRMED seat in its session
  offers   every OFFERED application holds a seat (HELD or CONFIRMED); an application that
           ended without a seat holds none, unless its release is still in the outbox;
           no application was offered twice (application.offered events per application)
  live     at most one open application per applicant and session
  notify   no two inbox entries of one recipient come from the same event; with
           expect_notifications, every application.* event has its inbox entry
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import Resp, pb_fields, pb_string, scan, text  # noqa: E402

SEAT_STATES = {"ACCEPTED", "COMPLETED"}
OPEN_STATES = {"SUBMITTED", "WAITLISTED", "OFFERED", "ACCEPTED"}


def session_parts(session):
    # "rotations/{r}/sessions/{s}" -> (r, s)
    parts = session.split("/")
    return parts[1], parts[3]


def load(r):
    apps = {}
    for key in scan(r, "app:application:*"):
        aid = text(key)[len("app:application:"):]
        state, session, applicant = r("HMGET", key, "state", "session", "applicant")
        apps[aid] = {"state": text(state), "session": text(session),
                     "applicant": text(applicant)}
    sessions = {}
    for key in scan(r, "cat:ses:*"):
        parts = text(key).split(":")
        if len(parts) != 4 or r("TYPE", key) != "hash":
            continue
        capacity, confirmed = r("HMGET", key, "capacity", "confirmed")
        if capacity is None:
            continue
        rid, sid = parts[2], parts[3]
        raw = r("HGETALL", f"cat:seat:{rid}:{sid}:holders") or []
        holders = {}
        for i in range(0, len(raw), 2):
            kind, hold_ms, other_ms = text(raw[i + 1]).split(" ")
            holders[text(raw[i])] = (kind, int(hold_ms), int(other_ms))
        sessions[f"rotations/{rid}/sessions/{sid}"] = {
            "capacity": int(capacity), "confirmed": int(confirmed or 0), "holders": holders}
    releases = {text(m) for m in r("ZRANGE", "app:seats:release", 0, -1)}
    return apps, sessions, releases


def stream_events(r, stream):
    out = []
    last = "-"
    while True:
        entries = r("XRANGE", stream, last, "+", "COUNT", 1000)
        if not entries:
            return out
        for entry_id, fields in entries:
            f = {text(fields[i]): fields[i + 1] for i in range(0, len(fields), 2)}
            ev = pb_fields(f.get("event", b""))
            out.append({"id": pb_string(ev, 1), "type": pb_string(ev, 2),
                        "subject": pb_string(ev, 4)})
        last = "(" + text(entries[-1][0])
        if len(entries) < 1000:
            return out


def check(addr, expect_notifications=False, now_ms=None):
    """Returns (violations, facts): a list of strings (empty when consistent) and counts."""
    v = []
    with Resp(addr, timeout=10) as r:
        now_ms = now_ms or int(r("TIME")[0]) * 1000
        apps, sessions, releases = load(r)

        for name, s in sorted(sessions.items()):
            confirmed = [h for h, rec in s["holders"].items() if rec[0] == "C"]
            live = [h for h, rec in s["holders"].items() if rec[0] == "H" and rec[2] > now_ms]
            lapsed = [h for h, rec in s["holders"].items() if rec[0] == "H" and rec[2] <= now_ms]
            if len(confirmed) != s["confirmed"]:
                v.append(f"seats: {name} counts {s['confirmed']} confirmed but has "
                         f"{len(confirmed)} CONFIRMED records")
            if len(confirmed) + len(live) > s["capacity"]:
                v.append(f"seats: {name} overbooked: {len(confirmed)} confirmed + {len(live)} "
                         f"held > capacity {s['capacity']}")
            for h in lapsed:
                v.append(f"holds: {h} still holds a seat in {name} "
                         f"{(now_ms - s['holders'][h][2]) / 1000:.1f}s past its expiry")
            for holder, rec in s["holders"].items():
                aid = holder.split("/", 1)[1] if holder.startswith("applications/") else None
                app = apps.get(aid)
                state = app["state"] if app else None
                if rec[0] == "C" and state not in SEAT_STATES:
                    v.append(f"agree: CONFIRMED seat in {name} for {holder} in state {state}")
                if rec[0] == "H" and rec[2] > now_ms and state not in ("OFFERED",) and \
                        aid not in releases and state not in ("SUBMITTED", "WAITLISTED"):
                    # SUBMITTED/WAITLISTED with a live hold: an offer that crashed between the
                    # hold and the state write; the hold lapses by itself (checked above).
                    v.append(f"agree: live hold in {name} for {holder} in state {state}")

        offered_events = {}
        for ev in stream_events(r, "app:events"):
            if ev["type"] == "application.offered":
                offered_events[ev["subject"]] = offered_events.get(ev["subject"], 0) + 1
        for subject, n in offered_events.items():
            if n > 1:
                v.append(f"offers: {subject} was offered {n} times")

        live_per_pair = {}
        for aid, app in sorted(apps.items()):
            holder = f"applications/{aid}"
            s = sessions.get(app["session"])
            rec = s["holders"].get(holder) if s else None
            state = app["state"]
            if state in SEAT_STATES and (rec is None or rec[0] != "C"):
                v.append(f"agree: {holder} is {state} but has no CONFIRMED seat ({rec})")
            if state == "OFFERED" and rec is None:
                v.append(f"offers: {holder} is OFFERED but holds no seat")
            if state not in OPEN_STATES and rec is not None and aid not in releases and \
                    not (rec[0] == "H" and rec[2] <= now_ms):
                v.append(f"agree: {holder} is {state} but still has seat record {rec[0]}")
            if state in OPEN_STATES:
                pair = (app["applicant"], app["session"])
                live_per_pair.setdefault(pair, []).append(aid)
        for pair, ids in live_per_pair.items():
            if len(ids) > 1:
                v.append(f"live: {pair[0]} has {len(ids)} open applications to {pair[1]}")

        notified = {}
        inbox_entries = 0
        for key in scan(r, "ntf:inbox:*"):
            rid = text(key)[len("ntf:inbox:"):]
            seen = {}
            for nid in r("ZRANGE", key, 0, -1):
                rec = r("GET", f"ntf:n:{rid}:{text(nid)}")
                if rec is None:
                    continue
                inbox_entries += 1
                source = pb_string(pb_fields(rec), 8)
                if not source:
                    continue
                seen[source] = seen.get(source, 0) + 1
                notified[source] = notified.get(source, 0) + 1
            for source, n in seen.items():
                if n > 1:
                    v.append(f"notify: applicants/{rid} has {n} notifications for event {source}")
        app_events = [ev for ev in stream_events(r, "app:events")
                      if ev["type"].startswith("application.")]
        if expect_notifications:
            for ev in app_events:
                if ev["id"] not in notified:
                    v.append(f"notify: event {ev['id']} ({ev['type']} {ev['subject']}) has no "
                             f"notification")

    orphan_holds = 0
    for s in sessions.values():
        for holder, rec in s["holders"].items():
            app = apps.get(holder.split("/", 1)[1]) if "/" in holder else None
            if rec[0] == "H" and app and app["state"] in ("SUBMITTED", "WAITLISTED"):
                orphan_holds += 1
    facts = {
        "applications": len(apps),
        "by_state": {s: sum(1 for a in apps.values() if a["state"] == s)
                     for s in sorted({a["state"] for a in apps.values()})},
        "sessions": len(sessions),
        "confirmed_seats": sum(s["confirmed"] for s in sessions.values()),
        "held_seats": sum(1 for s in sessions.values() for rec in s["holders"].values()
                          if rec[0] == "H"),
        "pending_releases": len(releases),
        "orphan_holds": orphan_holds,  # offers that crashed between the hold and the write
        "application_events": len(app_events),
        "inbox_entries": inbox_entries,
    }
    return v, facts


def check_eventually(addr, what="the stores agree", timeout=90, expect_notifications=False,
                     kinds=None):
    """Runs the checker until it passes (lapsed holds need a sweep, releases a retry, events
    the consumer); returns (violations of the last run, facts, seconds)."""
    start = time.monotonic()
    while True:
        violations, facts = check(addr, expect_notifications=expect_notifications)
        if not violations or time.monotonic() - start > timeout:
            return violations, facts, time.monotonic() - start
        time.sleep(0.5)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    violations, facts = check(sys.argv[1], expect_notifications="--notifications" in sys.argv)
    print(facts)
    for line in violations:
        print(line)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
