"""The complete applicant story over HTTP through the gateway, against the real stack.

Run by CTest (label e2e) with the build's bin/ directory as the first argument.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import socket
import sys
import threading
import time
import unittest

from stack import Stack, personal_data_in_log, query

BIN_DIR = None


def date_in(days):
    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_token(secret, claims, alg="HS256"):
    header = {"alg": alg, "typ": "JWT"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    if alg == "none":
        return signing_input + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
    sig = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(sig)


class StoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(BIN_DIR).start()
        s = cls.stack
        cls.admin = s.token("admins/root", "admin")
        cls.coordinator = s.token("coordinators/carla", "coordinator", site="sites/e2e-mercy")
        cls.other_coordinator = s.token("coordinators/omar", "coordinator", site="sites/e2e-other")
        cls.ana = s.token("applicants/ana", "applicant")
        cls.bob = s.token("applicants/bob", "applicant")

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        if not getattr(cls, "keep_logs", False):
            cls.stack.cleanup()

    def call(self, method, path, body=None, token=None, expect=200, **kw):
        status, payload, headers = self.stack.request(method, path, body=body, token=token, **kw)
        self.assertEqual(status, expect, f"{method} {path} -> {status} {payload}\n" +
                         (self.stack.log_tail(8) if status >= 500 else ""))
        return payload

    # The whole story, in order: each step builds on the one before.
    def test_applicant_story(self):
        s = self.stack
        # An admin creates a site; its coordinator publishes a rotation with one session.
        self.call("POST", query("/v1/sites", siteId="e2e-mercy"), {
            "displayName": "Mercy General Hospital", "organization": "Mercy Health",
            "city": "Queens", "usState": "NY", "timeZone": "America/New_York"}, self.admin)
        rotation = self.call("POST", query("/v1/rotations", rotationId="e2e-im"), {
            "site": "sites/e2e-mercy", "title": "Inpatient Internal Medicine Clerkship",
            "description": "Four weeks on the medicine wards with daily rounds.",
            "specialty": "INTERNAL_MEDICINE", "experienceType": "CLINICAL_ROTATION",
            "setting": "INPATIENT",
            "handsOn": {"patientContact": True, "emrAccess": True, "noteWriting": True,
                        "studentsPerPreceptor": 2},
            "durationWeeks": 4,
            "fees": {"programFeeCents": "250000", "applicationFeeCents": "10000"},
            "refundPolicy": "FULL_REFUND_30_DAYS", "lorOffered": True,
            "eligibility": {"step1PassRequired": True},
            "requiredDocuments": ["CV", "PASSPORT"], "verifiedDocumentsRequired": True,
            "supervisingPhysician": "Dr. Maria Lopez"}, self.coordinator)
        self.assertEqual(rotation["name"], "rotations/e2e-im")
        self.assertEqual(int(rotation["fees"]["totalCents"]), 260000)
        self.call("POST", query("/v1/rotations/e2e-im/sessions", sessionId="s1"), {
            "startDate": date_in(60), "endDate": date_in(88), "applicationDeadline": date_in(30),
            "capacity": 2}, self.coordinator)
        # Another site's coordinator cannot touch it.
        self.call("POST", "/v1/rotations/e2e-im:publish", {}, self.other_coordinator, expect=403)
        self.call("POST", "/v1/rotations/e2e-im:publish", {}, self.coordinator)

        # Anyone browses and filters the catalog without a token.
        found = self.call("GET", query("/v1/rotations", specialty="INTERNAL_MEDICINE", usState="NY",
                                       hasSeats="true", pageSize=50))
        self.assertIn("rotations/e2e-im", [r["name"] for r in found.get("rotations", [])])
        elsewhere = self.call("GET", query("/v1/rotations", specialty="INTERNAL_MEDICINE",
                                           usState="CA"))
        self.assertNotIn("rotations/e2e-im", [r["name"] for r in elsewhere.get("rotations", [])])
        sessions = self.call("GET", "/v1/rotations/e2e-im/sessions")["sessions"]
        self.assertEqual(sessions[0]["seatsAvailable"], 2)

        # Ana registers, uploads her documents, and an admin verifies them.
        self.call("POST", query("/v1/applicants", applicantId="ana"), {
            "givenName": "Ana", "familyName": "Silva", "email": "ana.silva.e2e@example.org",
            "trainingStage": "GRADUATE", "medicalSchool": "Universidade de São Paulo",
            "schoolCountry": "BR", "graduationYear": datetime.date.today().year - 1,
            "step1Status": "STEP1_PASSED", "step2ckScore": 247, "ecfmgCertified": True,
            "visaStatus": "J1", "specialtyInterests": ["INTERNAL_MEDICINE", "CARDIOLOGY"],
            "preferredStates": ["NY"],
            "availability": [{"startDate": date_in(30), "endDate": date_in(150)}],
            "budgetCents": "500000", "prefersHandsOn": True, "timeZone": "America/Sao_Paulo"},
            self.ana)
        document_names = []
        for kind in ["CV", "PASSPORT"]:
            doc = self.call("POST", "/v1/applicants/ana/documents", {
                "kind": kind, "displayName": kind.lower(),
                "uri": f"https://vault.example.org/ana/{kind.lower()}.pdf",
                "sha256": hashlib.sha256(kind.encode()).hexdigest(),
                "issueDate": date_in(-100), "expiryDate": date_in(1000)}, self.ana)
            self.assertEqual(doc["state"], "PENDING")
            document_names.append(doc["name"])
        # Before verification the application would be refused; the eligibility check says why.
        for name in document_names:
            self.call("POST", f"/v1/{name}:verify", {"verdict": "VERIFIED"}, self.ana, expect=403)
            verified = self.call("POST", f"/v1/{name}:verify", {"verdict": "VERIFIED"}, self.admin)
            self.assertEqual(verified["state"], "VERIFIED")

        eligibility = self.call("GET", query("/v1/applicants/ana/eligibility",
                                             rotation="rotations/e2e-im"), token=self.ana)
        self.assertTrue(eligibility["eligible"], eligibility)

        recommendations = self.recommendations_with("rotations/e2e-im")
        self.assertTrue(any("first choice" in reason for reason in recommendations["reasons"]),
                        recommendations)

        # Live notifications: open the SSE stream before anything happens to Ana.
        stream = SseReader(s.base, "/v1/applicants/ana/notifications:stream", self.ana)
        stream.start()
        self.assertTrue(stream.connected.wait(10), "SSE stream did not open")

        # Ana applies; the coordinator offers; Ana accepts.
        application = self.call("POST", "/v1/applications", {
            "applicant": "applicants/ana", "session": "rotations/e2e-im/sessions/s1",
            "statement": "I want inpatient medicine experience in New York.",
            "requestId": "e2e-ana-apply-1"}, self.ana)
        self.assertEqual(application["state"], "SUBMITTED")
        again = self.call("POST", "/v1/applications", {
            "applicant": "applicants/ana", "session": "rotations/e2e-im/sessions/s1",
            "statement": "I want inpatient medicine experience in New York.",
            "requestId": "e2e-ana-apply-1"}, self.ana)
        self.assertEqual(again["name"], application["name"], "same request id, same application")
        name = application["name"]
        self.call("GET", f"/v1/{name}", token=self.bob, expect=403)
        self.call("POST", f"/v1/{name}:offer", {}, self.other_coordinator, expect=403)
        offered = self.call("POST", f"/v1/{name}:offer", {}, self.coordinator)
        self.assertEqual(offered["state"], "OFFERED")
        self.assertIn("offerExpireTime", offered)
        self.assertEqual(self.call("GET", "/v1/rotations/e2e-im/sessions")["sessions"][0]
                         ["seatsAvailable"], 1)
        accepted = self.call("POST", f"/v1/{name}:accept", {}, self.ana)
        self.assertEqual(accepted["state"], "ACCEPTED")
        session = self.call("GET", "/v1/rotations/e2e-im/sessions")["sessions"][0]
        self.assertEqual(session["seatsConfirmed"], 1)

        # The offer shows up in the inbox and on the live stream.
        inbox = self.wait_for(lambda: self.call(
            "GET", "/v1/applicants/ana/notifications", token=self.ana).get("notifications", []),
            lambda n: any("offer" in (x.get("title", "") + x.get("body", "")).lower() for x in n))
        self.assertTrue(inbox, "no offer notification in the inbox")
        self.assertTrue(stream.got_event.wait(15), "no notification on the SSE stream")
        stream.close()

        # The coordinator records completion with a letter; the experience record shows it.
        completed = self.call("POST", f"/v1/{name}:complete", {
            "weeksCompleted": 4, "evaluationSummary": "Excellent clinical reasoning.",
            "lorStatus": "LOR_SUBMITTED", "erasLetterId": "ERAS-12345"}, self.coordinator)
        self.assertEqual(completed["state"], "COMPLETED")
        record = self.call("GET", "/v1/applicants/ana/experience", token=self.ana)
        self.assertEqual(len(record["entries"]), 1)
        entry = record["entries"][0]
        self.assertEqual(entry["siteDisplayName"], "Mercy General Hospital")
        self.assertEqual(entry["usState"], "NY")
        self.assertTrue(entry["handsOn"])
        self.assertEqual(entry["lorStatus"], "LOR_SUBMITTED")
        self.call("GET", "/v1/applicants/ana/experience", token=self.bob, expect=403)

        # Personal data never reaches the logs: not her e-mail address, not her exam score.
        for service in Stack.SERVICES + ["gateway"]:
            self.assertNotIn("ana.silva.e2e@example.org", s.log_text(service), service)
            self.assertEqual(personal_data_in_log(s.log_text(service),
                                                  emails=["ana.silva.e2e@example.org"],
                                                  scores=[247]), [], service)

    def recommendations_with(self, rotation):
        for _ in range(100):
            response = self.call("GET", "/v1/applicants/ana/recommendations", token=self.ana)
            for r in response.get("recommendations", []):
                if r.get("rotation") == rotation:
                    return r
            time.sleep(0.1)  # the matching service's catalog cache follows events
        self.fail(f"{rotation} never recommended")

    def wait_for(self, fetch, ok, attempts=100):
        value = None
        for _ in range(attempts):
            value = fetch()
            if ok(value):
                return value
            time.sleep(0.1)
        return None

    def test_authentication_and_authorization(self):
        s = self.stack
        self.call("GET", "/v1/applicants/ana", expect=401)
        self.call("POST", "/v1/applications", {"applicant": "applicants/ana"}, expect=401)
        now = int(time.time())
        claims = {"sub": "applicants/ana", "role": "applicant", "iat": now, "exp": now + 600}
        good = forge_token(s.jwt_secret, claims)
        status, _, _ = s.request("GET", "/v1/rotations", token=good)
        self.assertEqual(status, 200)
        for bad in [forge_token("another-secret-another-secret-0000", claims),
                    forge_token(s.jwt_secret, dict(claims, exp=now - 60)),
                    forge_token(s.jwt_secret, dict(claims, nbf=now + 600)),
                    forge_token(s.jwt_secret, claims, alg="HS384"),
                    forge_token(s.jwt_secret, claims, alg="none"),
                    "not.a.token"]:
            self.call("GET", "/v1/applicants/ana", token=bad, expect=401)
        # Identity headers sent from outside are ignored.
        self.call("GET", "/v1/applicants/ana", expect=401, headers={
            "x-clerkship-role": "admin", "x-clerkship-principal": "admins/evil"})
        self.call("GET", "/v1/applicants/ana", token=self.bob, expect=403)

    def test_bad_requests_get_clear_4xx(self):
        s = self.stack
        status, body, _ = s.request("POST", "/v1/sites", raw=b"{not json", token=self.admin,
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, body)
        status, body, _ = s.request("POST", "/v1/sites", body={"displayName": "X", "bogusField": 1},
                                    token=self.admin)
        self.assertEqual(status, 400)
        self.assertIn("bogusField", json.dumps(body))
        status, body, _ = s.request("POST", "/v1/sites", body={"displayName": ""}, token=self.admin)
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["status"], "INVALID_ARGUMENT")
        self.assertIn("site.display_name", json.dumps(body["error"]["details"]))
        self.assertEqual(self.oversized_post_status("/v1/sites", 8 << 20), 413)
        self.assertEqual(s.request("GET", "/v1/nothing-here")[0], 404)
        self.assertEqual(s.request("DELETE", "/v1/rotations")[0], 405)
        self.assertEqual(s.request("GET", "/v1/rotations/does-not-exist")[0], 404)
        self.assertEqual(s.request("GET", query("/v1/rotations", startFrom="2027-02-30"))[0], 400)
        # The processes are all still serving.
        self.assertEqual(s.request("GET", "/readyz")[0], 200)

    def oversized_post_status(self, path, size):
        """Status of a POST whose declared body is over the limit. The gateway answers and
        closes before the body is through, so the body is sent only as far as it will go."""
        host, port = self.stack.base.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=10)
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {self.admin}\r\nContent-Length: {size}\r\n\r\n")
        try:
            sock.sendall(head.encode())
            chunk = b" " * 65536
            for _ in range(size // len(chunk)):
                sock.sendall(chunk)
        except OSError:
            pass  # closed early by the gateway, as it should be
        response = b""
        try:
            while b"\r\n" not in response:
                data = sock.recv(4096)
                if not data:
                    break
                response += data
        except OSError:
            pass
        sock.close()
        status_line = response.split(b"\r\n", 1)[0].decode()
        return int(status_line.split()[1]) if status_line.startswith("HTTP/") else 0

    def test_openapi_document(self):
        status, doc, _ = self.stack.request("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertTrue(doc["openapi"].startswith("3."))
        self.assertIn("/v1/rotations", doc["paths"])
        self.assertIn("get", doc["paths"]["/v1/rotations"])
        params = [p["name"] for p in doc["paths"]["/v1/rotations"]["get"].get("parameters", [])]
        for expected in ["specialty", "usState", "hasSeats", "pageToken", "orderBy"]:
            self.assertIn(expected, params)


class SseReader(threading.Thread):
    """Reads a server-sent event stream in the background."""

    def __init__(self, base, path, token):
        super().__init__(daemon=True)
        self.base, self.path, self.token = base, path, token
        self.connected = threading.Event()
        self.got_event = threading.Event()
        self.events = []
        self.conn = None

    def run(self):
        try:
            self.conn = http.client.HTTPConnection(self.base, timeout=60)
            self.conn.request("GET", self.path, headers={
                "Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"})
            resp = self.conn.getresponse()
            if resp.status != 200:
                return
            self.connected.set()
            while True:
                line = resp.fp.readline()
                if not line:
                    return
                if line.startswith(b"data:"):
                    self.events.append(line[5:].strip())
                    self.got_event.set()
        except Exception:  # closed by close() or by the server
            return

    def close(self):
        try:
            if self.conn and self.conn.sock:
                self.conn.sock.close()
        except OSError:
            pass


if __name__ == "__main__":
    BIN_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
