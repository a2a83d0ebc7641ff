"""Page tokens through the gateway: a token belongs to the caller and the query it came from.

A token obtained by one caller and replayed by another is refused (INVALID_ARGUMENT naming
page_token), even where both may run the same query (two coordinators of one site, two
admins); an edited or hand-made token is refused the same way; the caller it belongs to
pages on normally.

Run by CTest (label security) with the build's bin/ directory as the first argument.
"""

import base64
import json
import sys
import unittest

import security_stack as ss
from security_stack import ADMIN, OTHER_APPLICANT, SELF, SITE_COORDINATOR

BIN_DIR = None


class PageTokenReplayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.world = ss.SecurityStack(BIN_DIR).start()
        w = cls.world
        try:
            w.create_world()
            # A second application and a second document, so that every listing has two pages.
            w.call("POST", "/v1/applications", {
                "applicant": "applicants/ana",
                "session": f"rotations/{ss.SPARE_ROTATION}/sessions/{ss.SESSION}",
                "statement": "Second application.", "requestId": "sec-apply-2"}, SELF)
            w.call("POST", "/v1/applicants/ana/documents", ss.document_body("PASSPORT"), SELF)
            s = w.stack
            w.tokens["site_coordinator_2"] = s.token("coordinators/cleo", "coordinator",
                                                     site=f"sites/{ss.SITE}")
            w.tokens["admin_2"] = s.token("admins/second", "admin")
        except Exception:
            w.stop(keep_logs=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.world.stop()

    def get(self, path, role, expect):
        status, body, _ = self.world.stack.request("GET", path, token=self.world.tokens[role])
        self.assertEqual(status, expect, f"GET {path} as {role}: {body}")
        return body

    def first_page_token(self, path, role):
        body = self.get(ss.query(path, pageSize=1), role, 200)
        token = body.get("nextPageToken", "")
        self.assertTrue(token, f"{path} as {role} has a single page: {body}")
        return token

    def assert_refused(self, path, role, token):
        body = self.get(ss.query(path, pageSize=1, pageToken=token), role, 400)
        self.assertEqual(body["error"]["status"], "INVALID_ARGUMENT")
        self.assertIn("page_token", json.dumps(body["error"]["details"]), body)

    def test_token_of_one_applicant_is_refused_for_another(self):
        token = self.first_page_token("/v1/applications", SELF)
        self.assert_refused("/v1/applications", OTHER_APPLICANT, token)
        # Naming ana's applications explicitly is refused before the token is looked at.
        self.get(ss.query("/v1/applications", applicant="applicants/ana", pageSize=1,
                          pageToken=token), OTHER_APPLICANT, 403)
        # Ana herself pages on: the second page has her other application, and nothing else.
        page = self.get(ss.query("/v1/applications", pageSize=1, pageToken=token), SELF, 200)
        self.assertEqual([a["applicant"] for a in page["applications"]], ["applicants/ana"])

    def test_token_is_bound_to_the_caller_even_for_the_same_query(self):
        token = self.first_page_token("/v1/applications", SITE_COORDINATOR)
        self.assert_refused("/v1/applications", "site_coordinator_2", token)
        token = self.first_page_token("/v1/applications", ADMIN)
        self.assert_refused("/v1/applications", "admin_2", token)
        docs = "/v1/applicants/ana/documents"
        token = self.first_page_token(docs, SELF)
        self.assert_refused(docs, ADMIN, token)
        self.get(ss.query(docs, pageSize=1, pageToken=token), SELF, 200)

    def test_edited_and_forged_tokens_are_refused(self):
        token = self.first_page_token("/v1/applications", SELF)
        raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        for i in [0, len(raw) // 2, len(raw) - 1]:
            edited = bytearray(raw)
            edited[i] ^= 0x01
            forged = base64.urlsafe_b64encode(bytes(edited)).decode().rstrip("=")
            self.assert_refused("/v1/applications", SELF, forged)
        # A token in the unauthenticated format, built by hand to point anywhere.
        hand_made = base64.urlsafe_b64encode(b"p1:0:zzzz").decode()
        self.assert_refused("/v1/applications", SELF, hand_made)
        self.assert_refused("/v1/sites", SELF, hand_made)
        self.assert_refused(f"/v1/rotations/{ss.ROTATION}/sessions", SELF, hand_made)
        self.assertEqual(self.world.dead_processes(), [])


if __name__ == "__main__":
    BIN_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
