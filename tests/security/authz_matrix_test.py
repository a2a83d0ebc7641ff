"""Authorization matrix: every REST route of the gateway × every kind of caller.

The routes are read from the gateway's own OpenAPI document (/openapi.json), which is generated
from the same route table it serves, so a new route is tried without editing this file — and
fails the test until POLICY says who may call it. For each route and caller, POLICY decides:
allowed → anything but 401/403 (a 400, 404 or 409 is fine: the caller got past authorization);
denied → 401 for an anonymous caller, 403 for a signed-in one.

The paths name real resources of the right owners (ana's profile, her application to carla's
site, ...), created first. Denied callers go before allowed ones on each route, so an allowed
call that changes state (an offer, a withdrawal) cannot make a later denial pass for the
wrong reason.

Run by CTest (label security) with the build's bin/ directory as the first argument.
"""

import http.client
import itertools
import json
import sys
import unittest

import security_stack as ss
from security_stack import (ADMIN, ANONYMOUS, OTHER_APPLICANT, OTHER_COORDINATOR, ROLES, SELF,
                            SITE_COORDINATOR)

BIN_DIR = None

EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {ANONYMOUS}
SELF_ADMIN = {SELF, ADMIN}
SITE_MANAGERS = {SITE_COORDINATOR, ADMIN}

_unique = itertools.count(1)


def unique(prefix):
    return f"{prefix}-{next(_unique)}"


class Policy:
    """Who may call a route, and how to call it (query, body, path parameters)."""

    def __init__(self, allowed, query=None, body=None, params=None, stream=False, why=""):
        self.allowed = set(allowed)
        self.query = query or {}     # dict, or a function () -> dict
        self.body = body             # dict, or a function () -> dict; None → no body
        self.params = params or {}   # path parameter overrides
        self.stream = stream         # server-sent events: read the status line only
        self.why = why


def _q(**kw):
    return kw


POLICY = {
    # Catalog: browsing is open to everyone; sites are the admin's; rotations and sessions the
    # site's coordinator's (and the admin's).
    ("GET", "/v1/sites"): Policy(EVERYONE),
    ("POST", "/v1/sites"): Policy(
        {ADMIN}, query=lambda: _q(siteId=unique("sec-site")), body=lambda: ss.site_body("X")),
    ("GET", "/v1/sites/{siteId}"): Policy(EVERYONE),
    ("GET", "/v1/rotations"): Policy(EVERYONE),
    ("POST", "/v1/rotations"): Policy(
        SITE_MANAGERS, query=lambda: _q(rotationId=unique("sec-rot")),
        body=lambda: ss.rotation_body(ss.SITE)),
    ("GET", "/v1/rotations/{rotationId}"): Policy(EVERYONE),
    ("PATCH", "/v1/rotations/{rotationId}"): Policy(
        SITE_MANAGERS, query=_q(updateMask="title"), body={"title": "Renamed by the test"}),
    ("POST", "/v1/rotations/{rotationId}:publish"): Policy(SITE_MANAGERS, body={}),
    ("POST", "/v1/rotations/{rotationId}:archive"): Policy(
        SITE_MANAGERS, body={}, params={"rotationId": ss.SPARE_ROTATION}),
    ("POST", "/v1/rotations/{rotationId}/sessions"): Policy(
        SITE_MANAGERS, query=lambda: _q(sessionId=unique("sec-ses")), body=ss.session_body),
    ("GET", "/v1/rotations/{rotationId}/sessions"): Policy(EVERYONE),
    ("PATCH", "/v1/rotations/{rotationId}/sessions/{sessionId}"): Policy(
        SITE_MANAGERS, query=_q(updateMask="capacity"), body={"capacity": 6}),

    # Applicant profiles and documents: the applicant and admins; a coordinator may read the
    # profile of an applicant who applied to their site.
    ("POST", "/v1/applicants"): Policy(
        SELF_ADMIN, query=_q(applicantId="ana"),
        body=lambda: ss.applicant_body("Ana", unique("ana") + "@example.org"),
        why="applicants create only their own profile (ana exists: 409 for the allowed)"),
    ("GET", "/v1/applicants/{applicantId}"): Policy({SELF, SITE_COORDINATOR, ADMIN}),
    ("PATCH", "/v1/applicants/{applicantId}"): Policy(
        SELF_ADMIN, query=_q(updateMask="budgetCents"), body={"budgetCents": "600000"}),
    ("POST", "/v1/applicants/{applicantId}/documents"): Policy(
        SELF_ADMIN, body=lambda: ss.document_body("PASSPORT")),
    ("GET", "/v1/applicants/{applicantId}/documents"): Policy(SELF_ADMIN),
    ("POST", "/v1/applicants/{applicantId}/documents/{documentId}:verify"): Policy(
        {ADMIN}, body={"verdict": "VERIFIED"}),
    ("GET", "/v1/applicants/{applicantId}/eligibility"): Policy(
        SELF_ADMIN, query=_q(rotation=f"rotations/{ss.ROTATION}")),
    ("GET", "/v1/applicants/{applicantId}/experience"): Policy(SELF_ADMIN),

    # Applications: submitted by the applicant; site actions by the site's coordinator and
    # admins; offer answers by the applicant alone.
    ("POST", "/v1/applications"): Policy(
        {SELF}, body={"applicant": "applicants/ana",
                      "session": f"rotations/{ss.ROTATION}/sessions/{ss.SESSION}",
                      "statement": "Again.", "requestId": "sec-apply-1"}),
    ("GET", "/v1/applications"): Policy(
        {SELF, SITE_COORDINATOR, OTHER_COORDINATOR, ADMIN}, query=_q(applicant="applicants/ana"),
        why="a listing filtered to the caller's scope: coordinators see ana's applications to "
            "their own site only (none for the other site), other applicants are refused"),
    ("GET", "/v1/applications/{applicationId}"): Policy({SELF, SITE_COORDINATOR, ADMIN}),
    ("POST", "/v1/applications/{applicationId}:offer"): Policy(SITE_MANAGERS, body={}),
    ("POST", "/v1/applications/{applicationId}:waitlist"): Policy(SITE_MANAGERS, body={}),
    ("POST", "/v1/applications/{applicationId}:reject"): Policy(
        SITE_MANAGERS, body={"reason": "Test rejection."}),
    ("POST", "/v1/applications/{applicationId}:complete"): Policy(
        SITE_MANAGERS, body={"weeksCompleted": 4, "evaluationSummary": "Fine.",
                             "lorStatus": "LOR_SUBMITTED", "erasLetterId": "ERAS-1"}),
    ("POST", "/v1/applications/{applicationId}:accept"): Policy({SELF}, body={}),
    ("POST", "/v1/applications/{applicationId}:decline"): Policy({SELF}, body={}),
    ("POST", "/v1/applications/{applicationId}:withdraw"): Policy({SELF}, body={}),

    # Matching.
    ("GET", "/v1/applicants/{applicantId}/recommendations"): Policy(SELF_ADMIN),
    ("POST", "/v1/rounds"): Policy(
        {ADMIN}, query=lambda: _q(roundId=unique("sec-rnd")), body=ss.round_body),
    ("GET", "/v1/rounds/{roundId}"): Policy(SIGNED_IN),
    ("POST", "/v1/rounds/{roundId}/rankLists"): Policy(
        SELF_ADMIN, body={"applicant": "applicants/ana",
                          "sessions": [f"rotations/{ss.ROTATION}/sessions/{ss.SESSION}"]}),
    ("POST", "/v1/rounds/{roundId}/sessionRankings"): Policy(
        SITE_MANAGERS, body={"session": f"rotations/{ss.ROTATION}/sessions/{ss.SESSION}",
                             "applicants": ["applicants/ana"]}),
    ("POST", "/v1/rounds/{roundId}:run"): Policy(
        {ADMIN}, body={}, params={"roundId": ss.SPARE_ROUND}),
    ("POST", "/v1/rounds/{roundId}:publish"): Policy(
        {ADMIN}, body={}, params={"roundId": ss.SPARE_ROUND}),
    ("GET", "/v1/rounds/{roundId}/results"): Policy(
        {SELF, ADMIN}, query=_q(applicant="applicants/ana"),
        why="an applicant only for their own result; coordinators only with a session of "
            "their site"),

    # Notifications: the recipient (and admins, except marking read).
    ("GET", "/v1/applicants/{applicantId}/notifications"): Policy(SELF_ADMIN),
    ("POST", "/v1/applicants/{applicantId}/notifications/{notificationId}:markRead"): Policy(
        {SELF}, body={}),
    ("GET", "/v1/applicants/{applicantId}/notifications:stream"): Policy(SELF_ADMIN, stream=True),
    ("GET", "/v1/applicants/{applicantId}/notificationSettings"): Policy(SELF_ADMIN),
    ("PATCH", "/v1/applicants/{applicantId}/notificationSettings"): Policy(
        SELF_ADMIN, query=_q(updateMask="quietHoursStart,quietHoursEnd"),
        body={"quietHoursStart": "22:00", "quietHoursEnd": "07:00"}),

    # The gateway's own.
    ("GET", "/healthz"): Policy(EVERYONE),
    ("GET", "/readyz"): Policy(EVERYONE),
    ("GET", "/metrics"): Policy(EVERYONE),
    ("GET", "/openapi.json"): Policy(EVERYONE),
}


def resolve(value):
    return value() if callable(value) else value


class AuthzMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.world = ss.SecurityStack(BIN_DIR).start()
        try:
            cls.world.create_world()
        except Exception:
            cls.world.stop(keep_logs=True)
            raise
        status, doc, _ = cls.world.stack.request("GET", "/openapi.json")
        assert status == 200, status
        cls.routes = [(method.upper(), path) for path, ops in doc["paths"].items()
                      for method in ops]

    @classmethod
    def tearDownClass(cls):
        cls.world.stop()

    def path_values(self, policy):
        values = {"siteId": ss.SITE, "rotationId": ss.ROTATION, "sessionId": ss.SESSION,
                  "applicantId": "ana", "roundId": ss.ROUND}
        values.update(self.world.ids)
        values.update(policy.params)
        return values

    def request(self, method, path, role, policy):
        """(status, body text) of one call; for streams only the status."""
        target = path.format(**self.path_values(policy))
        params = resolve(policy.query)
        if params:
            target = ss.query(target, **params)
        headers = {"Accept": "text/event-stream" if policy.stream else "application/json"}
        token = self.world.tokens[role]
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = resolve(policy.body)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.world.stack.base, timeout=30)
        try:
            conn.request(method, target, body=data, headers=headers)
            resp = conn.getresponse()
            is_stream = resp.getheader("Content-Type", "").startswith("text/event-stream")
            if not is_stream:
                return resp.status, target, resp.read().decode("utf-8", "replace")
            if role in policy.allowed:
                return resp.status, target, ""
            # A stream the backend refused after the gateway had already answered 200 (only
            # when the refusal is slower than the gateway's header delay): the refusal is then
            # the first event. Count that as the status it carries; no event may come first.
            conn.sock.settimeout(10)
            event = b""
            while not event.endswith(b"\n\n"):
                line = resp.readline()
                if not line:
                    break
                if line.strip() and not line.startswith(b":"):
                    event += line
                elif event:
                    event += b"\n"
            text = event.decode("utf-8", "replace")
            if text.startswith("event: error"):
                code = json.loads(text.split("data: ", 1)[1])["error"]["code"]
                return code, target, "(refused in the stream) " + text
            return resp.status, target, text
        finally:
            conn.close()

    def test_every_route_has_a_policy(self):
        missing = [f"{m} {p}" for m, p in self.routes if (m, p) not in POLICY]
        self.assertEqual(missing, [], "routes without an entry in POLICY: declare who may "
                                      "call them")
        stale = [f"{m} {p}" for m, p in POLICY if (m, p) not in self.routes]
        self.assertEqual(stale, [], "POLICY entries for routes the gateway does not serve")

    def test_matrix(self):
        failures = []
        tried = 0
        for method, path in self.routes:
            policy = POLICY.get((method, path))
            if policy is None:
                continue  # reported by test_every_route_has_a_policy
            # Denied callers first: allowed calls may change the resource's state.
            for role in sorted(ROLES, key=lambda r: r in policy.allowed):
                status, target, text = self.request(method, path, role, policy)
                tried += 1
                allowed = role in policy.allowed
                if allowed:
                    ok = status not in (401, 403) and status < 500
                    want = "not 401/403 (and no 5xx)"
                else:
                    want = 401 if role == ANONYMOUS else 403
                    ok = status == want
                if not ok:
                    failures.append(f"{method} {path} as {role}: got {status}, want {want}"
                                    f"  [{target}] {text[:200]}")
        self.assertGreater(tried, 6 * 40)
        self.assertEqual(failures, [], "\n" + "\n".join(failures) + "\n" +
                         (self.world.stack.log_tail(5) if any(" 5" in f for f in failures)
                          else ""))
        self.assertEqual(self.world.dead_processes(), [])

    def test_identity_headers_from_outside_are_ignored(self):
        s = self.world.stack
        spoofed = {"x-clerkship-role": "admin", "x-clerkship-principal": "admins/evil",
                   "x-clerkship-site": f"sites/{ss.SITE}"}
        variants = [spoofed,
                    {k.upper(): v for k, v in spoofed.items()},
                    {"Grpc-Metadata-" + k: v for k, v in spoofed.items()}]
        app = f"/v1/applications/{self.world.ids['applicationId']}"
        for headers in variants:
            # Without a token the headers do not sign anyone in.
            status, body, _ = s.request("GET", "/v1/applicants/ana", headers=headers)
            self.assertEqual(status, 401, (headers, body))
            # With bob's token they do not make him an admin.
            status, body, _ = s.request("GET", "/v1/applicants/ana", headers=headers,
                                        token=self.world.tokens[OTHER_APPLICANT])
            self.assertEqual(status, 403, (headers, body))
            # Nor move the other site's coordinator to ana's site.
            status, body, _ = s.request("GET", app, headers=headers,
                                        token=self.world.tokens[OTHER_COORDINATOR])
            self.assertEqual(status, 403, (headers, body))
            # Nor make an admin-only action pass for an applicant.
            status, body, _ = s.request("POST", ss.query("/v1/sites", siteId=unique("spoof")),
                                        body=ss.site_body("Spoof"), headers=headers,
                                        token=self.world.tokens[SELF])
            self.assertEqual(status, 403, (headers, body))
        # The principal is ana's own, whatever she claims: her applications list has only hers.
        status, body, _ = s.request("GET", "/v1/applications", headers=spoofed,
                                    token=self.world.tokens[SELF])
        self.assertEqual(status, 200, body)
        self.assertTrue(all(a["applicant"] == "applicants/ana"
                            for a in body.get("applications", [])), body)

    def test_zz_no_personal_data_in_logs(self):
        """Last (by name): after every route was called by every role, with profiles holding
        e-mail addresses and a Step 2 CK score of 231, no log line carries either."""
        for name, _, _ in self.world.stack.procs:
            leaks = ss.personal_data_in_log(self.world.stack.log_text(name),
                                            emails=["@example.org"], scores=[231])
            self.assertEqual(leaks[:5], [], name)


if __name__ == "__main__":
    BIN_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
