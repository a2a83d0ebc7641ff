"""Shared by the security tests: the real stack (tests/e2e/stack.py), the callers the tests act
as, the data they act on, and a raw HTTP client for requests http.client refuses to send.
"""

import datetime
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

from stack import Stack, personal_data_in_log, query  # noqa: E402,F401  (path set up above)

# The callers every route is tried with.
ANONYMOUS = "anonymous"
SELF = "self"                         # applicants/ana: the applicant whose data the paths name
OTHER_APPLICANT = "other_applicant"   # applicants/bob
SITE_COORDINATOR = "site_coordinator"  # coordinators/carla of sites/sec-mercy (ana applied there)
OTHER_COORDINATOR = "other_coordinator"  # coordinators/omar of sites/sec-other
ADMIN = "admin"
ROLES = [ANONYMOUS, SELF, OTHER_APPLICANT, SITE_COORDINATOR, OTHER_COORDINATOR, ADMIN]

SITE = "sec-mercy"
OTHER_SITE = "sec-other"
ROTATION = "sec-im"
SPARE_ROTATION = "sec-spare"  # for actions that end a rotation (archive)
SESSION = "s1"
ROUND = "sec-round"
SPARE_ROUND = "sec-round-2"   # for run and publish, which close the round to rank lists


def date_in(days):
    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


def timestamp_in(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def site_body(name):
    return {"displayName": name, "organization": "Security Test Health", "city": "Queens",
            "usState": "NY", "timeZone": "America/New_York"}


def rotation_body(site):
    return {"site": f"sites/{site}", "title": "Inpatient Medicine", "description": "Wards.",
            "specialty": "INTERNAL_MEDICINE", "experienceType": "CLINICAL_ROTATION",
            "setting": "INPATIENT", "durationWeeks": 4,
            "fees": {"programFeeCents": "100000", "applicationFeeCents": "5000"},
            "refundPolicy": "FULL_REFUND_30_DAYS", "lorOffered": True,
            "supervisingPhysician": "Dr. Test"}


def session_body():
    return {"startDate": date_in(60), "endDate": date_in(88), "applicationDeadline": date_in(30),
            "capacity": 5}


def applicant_body(given, email):
    return {"givenName": given, "familyName": "Tester", "email": email,
            "trainingStage": "GRADUATE", "medicalSchool": "Test University", "schoolCountry": "BR",
            "graduationYear": datetime.date.today().year - 1, "step1Status": "STEP1_PASSED",
            "step2ckScore": 231, "ecfmgCertified": True, "visaStatus": "J1",
            "specialtyInterests": ["INTERNAL_MEDICINE"], "preferredStates": ["NY"],
            "budgetCents": "500000", "timeZone": "America/Sao_Paulo"}


def document_body(kind="CV"):
    return {"kind": kind, "displayName": kind.lower(),
            "uri": f"https://vault.example.org/{kind.lower()}.pdf", "sha256": "ab" * 32,
            "issueDate": date_in(-100), "expiryDate": date_in(1000)}


def round_body():
    return {"displayName": "Security round",
            "sessions": [f"rotations/{ROTATION}/sessions/{SESSION}"],
            "rankDeadline": timestamp_in(20), "seed": "7", "maxRanksPerApplicant": 5}


class SecurityStack:
    """The stack, tokens for every role, and the resources the paths refer to."""

    def __init__(self, bin_dir):
        self.stack = Stack(bin_dir, own_redis=True)
        self.tokens = {}
        self.ids = {}

    def start(self):
        s = self.stack.start()
        self.tokens = {
            ANONYMOUS: None,
            SELF: s.token("applicants/ana", "applicant"),
            OTHER_APPLICANT: s.token("applicants/bob", "applicant"),
            SITE_COORDINATOR: s.token("coordinators/carla", "coordinator", site=f"sites/{SITE}"),
            OTHER_COORDINATOR: s.token("coordinators/omar", "coordinator",
                                       site=f"sites/{OTHER_SITE}"),
            ADMIN: s.token("admins/root", "admin"),
        }
        return self

    def stop(self, keep_logs=False):
        self.stack.stop()
        if not keep_logs:
            self.stack.cleanup()

    def call(self, method, path, body=None, role=ADMIN, expect=(200,), **kw):
        status, payload, _ = self.stack.request(method, path, body=body, token=self.tokens[role],
                                                **kw)
        if status not in expect:
            raise AssertionError(f"setup: {method} {path} as {role} -> {status} {payload}\n" +
                                 self.stack.log_tail(8))
        return payload

    def create_world(self):
        """Sites, rotations with sessions, two applicant profiles, a document and an
        application of ana to the site's session, two rounds, and a notification for ana."""
        for site in [SITE, OTHER_SITE]:
            self.call("POST", query("/v1/sites", siteId=site), site_body(site))
        for rotation in [ROTATION, SPARE_ROTATION]:
            self.call("POST", query("/v1/rotations", rotationId=rotation), rotation_body(SITE),
                      SITE_COORDINATOR)
            self.call("POST", query(f"/v1/rotations/{rotation}/sessions", sessionId=SESSION),
                      session_body(), SITE_COORDINATOR)
            self.call("POST", f"/v1/rotations/{rotation}:publish", {}, SITE_COORDINATOR)
        for role, given in [(SELF, "ana"), (OTHER_APPLICANT, "bob")]:
            self.call("POST", query("/v1/applicants", applicantId=given),
                      applicant_body(given.title(), f"{given}.security@example.org"), role)
        doc = self.call("POST", "/v1/applicants/ana/documents", document_body(), SELF)
        self.ids["documentId"] = doc["name"].rsplit("/", 1)[1]
        application = self.call("POST", "/v1/applications", {
            "applicant": "applicants/ana", "session": f"rotations/{ROTATION}/sessions/{SESSION}",
            "statement": "Security test application.", "requestId": "sec-apply-1"}, SELF)
        self.ids["applicationId"] = application["name"].rsplit("/", 1)[1]
        for round_id in [ROUND, SPARE_ROUND]:
            self.call("POST", query("/v1/rounds", roundId=round_id), round_body())
        # The submission is announced to ana by the notification service (asynchronously).
        self.ids["notificationId"] = "no-such-notification"
        for _ in range(100):
            inbox = self.call("GET", "/v1/applicants/ana/notifications", role=SELF)
            if inbox.get("notifications"):
                self.ids["notificationId"] = inbox["notifications"][0]["name"].rsplit("/", 1)[1]
                break
            time.sleep(0.1)

    def dead_processes(self):
        return [f"{name} (exit {proc.returncode})" for name, proc, _ in self.stack.procs
                if proc.poll() is not None]

    def raw_request(self, data, timeout=30):
        """Sends bytes as they are and returns (status, headers+body bytes); status 0 when the
        gateway closed the connection without an answer."""
        host, port = self.stack.base.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        response = b""
        try:
            try:
                sock.sendall(data)
            except OSError:
                pass  # the gateway may answer and close before reading everything
            sock.shutdown(socket.SHUT_WR)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                response += chunk
        except OSError:
            pass
        finally:
            sock.close()
        line = response.split(b"\r\n", 1)[0].decode("latin-1")
        status = int(line.split()[1]) if line.startswith("HTTP/") and len(line.split()) > 1 else 0
        return status, response
