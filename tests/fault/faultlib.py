"""Shared machinery of the fault-injection suite.

- Redis servers the tests own (AOF on, killable with SIGKILL, restartable on the same port and
  data directory), replicas and Sentinels.
- FaultStack: the e2e Stack (tests/e2e/stack.py, imported, not copied) on a Redis of ours, with
  services that can be SIGKILLed and restarted one at a time.
- A tiny RESP client (no redis module on the test machine), a protobuf wire-format reader and a
  gRPC health probe that needs no generated stubs.
- Workload: a few client threads driving the applicant story over HTTP through the gateway
  (submit, offer, accept, decline), recording every write that was acknowledged and every call
  whose outcome is unknown.

Nothing here asserts on time: waits are wait-until loops with generous deadlines, and
durations are only printed.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from stack import Stack, free_port, query  # noqa: E402  (tests/e2e/stack.py)

# Generous: these bound waits for things that take a second or two, on 2 busy cores under ASan.
LONG = 90


def bin_dir_from_argv():
    """$CLERKSHIP_BIN_DIR (tests/run sets it), else the first argument (CTest passes it)."""
    d = os.environ.get("CLERKSHIP_BIN_DIR") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not d or not os.path.exists(os.path.join(d, "clerkship-gateway")):
        raise SystemExit(f"no service binaries in {d!r}: set CLERKSHIP_BIN_DIR or pass bin/")
    return d


def wait_until(what, predicate, timeout=LONG, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        time.sleep(interval)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------------
# RESP

class RespError(Exception):
    pass


class Resp:
    """A blocking RESP2 client, one connection."""

    def __init__(self, addr, timeout=5):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise RespError(f"unexpected reply {line!r}")


def redis_once(addr, *args, timeout=2):
    with Resp(addr, timeout=timeout) as r:
        return r(*args)


def redis_answers(addr):
    try:
        return redis_once(addr, "PING", timeout=1) == "PONG"
    except (OSError, RespError):
        return False


def scan(r, pattern):
    cursor = b"0"
    while True:
        cursor, keys = r("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        yield from keys
        if cursor in (b"0", 0):
            return


def text(b):
    return b.decode() if isinstance(b, bytes) else b


# --------------------------------------------------------------------------------------------
# Protobuf wire format, enough to read string fields of stored records

def _varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def pb_fields(data):
    """{field number: [values]} of one message; length-delimited values stay bytes."""
    fields, i = {}, 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def pb_string(fields, number):
    v = fields.get(number)
    return v[-1].decode() if v else ""


def pb_encode_strings(*pairs):
    """Encodes (field number, str) pairs as a message of string fields."""
    out = b""
    for number, value in pairs:
        data = value.encode()
        out += bytes([(number << 3) | 2]) + _encode_varint(len(data)) + data
    return out


def _encode_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


# --------------------------------------------------------------------------------------------
# gRPC health without generated stubs

HEALTH_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def grpc_health(addr, timeout=2):
    """'SERVING', 'NOT_SERVING', ... or 'UNREACHABLE'."""
    import grpc
    try:
        with grpc.insecure_channel(addr) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check")
            raw = check(b"", timeout=timeout)
        status = pb_fields(raw).get(1, [0])[0]
        return HEALTH_NAMES.get(status, str(status))
    except grpc.RpcError:
        return "UNREACHABLE"


def grpc_raw_call(addr, method, request, metadata, timeout=10):
    """(grpc.StatusCode, response bytes or None, seconds)."""
    import grpc
    with grpc.insecure_channel(addr) as channel:
        call = channel.unary_unary(method)
        start = time.monotonic()
        try:
            raw = call(request, timeout=timeout, metadata=metadata)
            return grpc.StatusCode.OK, raw, time.monotonic() - start
        except grpc.RpcError as e:
            return e.code(), None, time.monotonic() - start


# --------------------------------------------------------------------------------------------
# Redis processes

class RedisServer:
    """A redis-server we own: AOF with fsync on every write, killable and restartable."""

    def __init__(self, name, port=None, replica_of=None, extra=()):
        self.name = name
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix=f"clerkship-fault-{name}-")
        self.replica_of = replica_of
        self.extra = list(extra)
        self.proc = None
        self.addr = f"127.0.0.1:{self.port}"

    def args(self):
        a = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir,
             "--logfile", os.path.join(self.dir, "redis.log"),
             "--repl-diskless-sync-delay", "0"]
        if self.replica_of:
            a += ["--replicaof", "127.0.0.1", str(self.replica_of.port)]
        return a + self.extra

    def start(self):
        self.proc = subprocess.Popen(self.args())
        wait_until(f"{self.name} answers", lambda: redis_answers(self.addr), timeout=30)
        # A restart answers LOADING until the AOF is read back.
        wait_until(f"{self.name} has loaded its data", self._loaded, timeout=60)
        return self

    def _loaded(self):
        try:
            return redis_once(self.addr, "DBSIZE") is not None
        except RespError:
            return False
        except OSError:
            return False

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


class Sentinel:
    def __init__(self, master, quorum=2):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="clerkship-fault-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"logfile {os.path.join(self.dir, 'sentinel.log')}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {master.port} {quorum}\n"
                    # 2 s rather than 1: on a busy 2-core machine (a CI run of the
                    # sanitizer build) a freshly promoted master was seen down for 1 s
                    # and the Sentinels failed back to the old one (5 s in deploy/).
                    "sentinel down-after-milliseconds mymaster 2000\n"
                    "sentinel failover-timeout mymaster 10000\n"
                    "sentinel parallel-syncs mymaster 1\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", self.conf, "--sentinel"])
        wait_until("sentinel answers", lambda: redis_answers(self.addr), timeout=30)
        return self

    def master_addr(self):
        try:
            host, port = redis_once(self.addr, "SENTINEL", "get-master-addr-by-name", "mymaster")
            return f"{text(host)}:{text(port)}"
        except (OSError, RespError, TypeError, ValueError):
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The platform on a Redis of ours

class FaultStack(Stack):
    """tests/e2e/stack.py's Stack, pointed at our Redis, with per-service kill and restart."""

    def __init__(self, bin_dir, redis_addr, env=None):
        super().__init__(bin_dir)
        self.fault_redis_addr = redis_addr
        self.fault_env = dict(env or {})
        self.restarts = {}

    def start(self):
        # Stack.start takes its Redis from CLERKSHIP_TEST_REDIS_ADDR and the services inherit
        # the environment: lend it ours for the duration of the start.
        saved = dict(os.environ)
        os.environ["CLERKSHIP_TEST_REDIS_ADDR"] = self.fault_redis_addr
        os.environ.update(self.fault_env)
        try:
            super().start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return self

    def grpc_addr(self, name):
        return f"127.0.0.1:{self.ports[name]}"

    def health(self, name):
        return grpc_health(self.grpc_addr(name))

    def proc_of(self, name):
        for n, proc, _ in reversed(self.procs):
            if n == name:
                return proc
        return None

    def kill9(self, name):
        proc = self.proc_of(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def restart(self, name):
        """Starts `name` again on its port; the previous run's log is kept beside it."""
        n = self.restarts.get(name, 0) + 1
        self.restarts[name] = n
        path = os.path.join(self.logs, f"{name}.log")
        os.rename(path, os.path.join(self.logs, f"{name}.run{n}.log"))
        self._start(name, [f"--port={self.ports[name]}"])

    def all_serving(self):
        return all(self.health(n) == "SERVING" for n in self.SERVICES)

    def exit_codes(self):
        return {n: p.returncode for n, p, _ in self.procs if p.poll() is not None}


# --------------------------------------------------------------------------------------------
# HTTP clients

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(stack, sub, role, site=None):
    now = int(time.time())
    claims = {"sub": sub, "role": role, "iat": now, "exp": now + 3600}
    if site:
        claims["site"] = site
    signing_input = (b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    sig = hmac.new(stack.jwt_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


REQUEST_DEADLINE = 10  # seconds, sent as X-Request-Timeout: a hang shows as 504 or a timeout
SOCKET_TIMEOUT = 40


class Call:
    __slots__ = ("op", "status", "body", "start", "end")

    def __init__(self, op, status, body, start, end):
        self.op, self.status, self.body, self.start, self.end = op, status, body, start, end

    @property
    def ok(self):
        return self.status == 200

    @property
    def seconds(self):
        return self.end - self.start


def http_call(base, method, path, body=None, tok=None):
    """(status, parsed body); status 0 for a transport error, -1 for a client-side timeout."""
    h = {"Accept": "application/json", "X-Request-Timeout": f"{REQUEST_DEADLINE}s"}
    if tok:
        h["Authorization"] = f"Bearer {tok}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(base, timeout=SOCKET_TIMEOUT)
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        status = resp.status
    except socket.timeout:
        return -1, None
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode("utf-8", "replace")
    return status, parsed


def answered(base, method, path, body=None, tok=None):
    """http_call, retried while the answer is 503 or a transport error (a backend that was
    just restarted, a gateway channel still in reconnect backoff)."""
    result = {}

    def attempt():
        result["r"] = http_call(base, method, path, body, tok)
        return result["r"][0] not in (503, 0)

    wait_until(f"{method} {path} is answered", attempt, interval=0.2)
    return result["r"]


def must(status_body, what):
    status, body = status_body
    if status != 200:
        raise AssertionError(f"{what}: HTTP {status} {body}")
    return body


def date_in(days):
    import datetime
    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


class Catalog:
    """A site with one published rotation and `sessions` sessions of `capacity` seats."""

    def __init__(self, stack, sessions=8, capacity=6, prefix="fault"):
        self.stack = stack
        base = stack.base
        self.admin = token(stack, "admins/root", "admin")
        site = f"{prefix}-site"
        self.coordinator = token(stack, "coordinators/carla", "coordinator", site=f"sites/{site}")
        must(http_call(base, "POST", query("/v1/sites", siteId=site), {
            "displayName": "Fault General Hospital", "organization": "Fault Health",
            "city": "Queens", "usState": "NY", "timeZone": "America/New_York"}, self.admin),
            "create site")
        rot = f"{prefix}-im"
        must(http_call(base, "POST", query("/v1/rotations", rotationId=rot), {
            "site": f"sites/{site}", "title": "Inpatient Internal Medicine Clerkship",
            "description": "Four weeks on the medicine wards.",
            "specialty": "INTERNAL_MEDICINE", "experienceType": "CLINICAL_ROTATION",
            "setting": "INPATIENT", "durationWeeks": 4,
            "fees": {"programFeeCents": "100000", "applicationFeeCents": "0"},
            "refundPolicy": "FULL_REFUND_30_DAYS",
            "supervisingPhysician": "Dr. Maria Lopez"}, self.coordinator), "create rotation")
        self.sessions = []
        for i in range(sessions):
            sid = f"s{i}"
            must(http_call(base, "POST", query(f"/v1/rotations/{rot}/sessions", sessionId=sid), {
                "startDate": date_in(60 + 30 * i), "endDate": date_in(88 + 30 * i),
                "applicationDeadline": date_in(30), "capacity": capacity}, self.coordinator),
                "create session")
            self.sessions.append(f"rotations/{rot}/sessions/{sid}")
        must(http_call(base, "POST", f"/v1/rotations/{rot}:publish", {}, self.coordinator),
             "publish")
        self.rotation = f"rotations/{rot}"


def create_applicants(stack, count, prefix="fa"):
    out = []
    for i in range(count):
        aid = f"{prefix}{i}"
        tok = token(stack, f"applicants/{aid}", "applicant")
        must(http_call(stack.base, "POST", query("/v1/applicants", applicantId=aid), {
            "givenName": "Test", "familyName": f"Applicant{i}",
            "email": f"{aid}.fault@example.org", "trainingStage": "GRADUATE",
            "medicalSchool": "Universidade de Sao Paulo", "schoolCountry": "BR",
            "graduationYear": 2024, "step1Status": "STEP1_PASSED", "ecfmgCertified": True,
            "visaStatus": "J1", "specialtyInterests": ["INTERNAL_MEDICINE"],
            "availability": [{"startDate": date_in(30), "endDate": date_in(700)}],
            "budgetCents": "500000", "timeZone": "America/Sao_Paulo"}, tok), "create applicant")
        out.append((aid, tok))
    return out


# Application states, ordered by how far along they are (terminal states last).
STATE_RANK = {"SUBMITTED": 0, "WAITLISTED": 0, "OFFERED": 1, "ACCEPTED": 2, "COMPLETED": 3,
              "DECLINED": 3, "WITHDRAWN": 3, "REJECTED": 3, "EXPIRED": 3, "CANCELLED": 3}
TERMINAL = {"DECLINED", "WITHDRAWN", "REJECTED", "EXPIRED", "CANCELLED", "COMPLETED"}


class Workload:
    """Client threads driving submit -> offer -> accept (sometimes decline) over HTTP.

    Every call is recorded. `acked` maps application name -> the furthest state a 200 reply
    confirmed; `in_doubt` maps application name -> the operation whose outcome is unknown
    (5xx, transport error), which settle() resolves the way a client would: read, then retry.
    """

    def __init__(self, stack, catalog, applicants, workers=4, pause=0.01, seed=1,
                 offer_expire_seconds=None, retry_pause=0.05):
        self.stack, self.catalog = stack, catalog
        self.pause = pause
        self.retry_pause = retry_pause
        self.offer_expire_seconds = offer_expire_seconds
        self.calls = []
        self.acked = {}
        self.in_doubt = {}
        self.tokens = dict(applicants)
        self.mu = threading.Lock()
        self.stop_event = threading.Event()
        rng = random.Random(seed)
        pairs = [(a, s) for a, _ in applicants for s in catalog.sessions]
        rng.shuffle(pairs)
        self.pairs = [pairs[i::workers] for i in range(workers)]
        self.threads = [threading.Thread(target=self._run, args=(i, random.Random(seed + i)),
                                         daemon=True) for i in range(workers)]
        self.owner = {}
        self.inflight = {}
        # Applications whose pending operation the client gives up on (no retry, no settle).
        self.abandoned = set()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=SOCKET_TIMEOUT * 3)

    def alive(self):
        return any(t.is_alive() for t in self.threads)

    def acked_count(self):
        with self.mu:
            return sum(1 for c in self.calls if c.ok and c.op != "read")

    def calls_since(self, t):
        with self.mu:
            return [c for c in self.calls if c.start >= t]

    def _call(self, op, method, path, body, tok):
        with self.mu:
            self.inflight[op] = self.inflight.get(op, 0) + 1
        start = time.monotonic()
        status, payload = http_call(self.stack.base, method, path, body, tok)
        call = Call(op, status, payload, start, time.monotonic())
        with self.mu:
            self.inflight[op] -= 1
            self.calls.append(call)
        return call

    def in_flight(self, op):
        with self.mu:
            return self.inflight.get(op, 0)

    def _ack(self, name, state):
        with self.mu:
            prev = self.acked.get(name)
            if prev is None or STATE_RANK[state] >= STATE_RANK[prev]:
                self.acked[name] = state
            self.in_doubt.pop(name, None)

    def _doubt(self, name, op):
        with self.mu:
            self.in_doubt[name] = op

    def _run(self, index, rng):
        coordinator = self.catalog.coordinator
        for n, (aid, session) in enumerate(self.pairs[index]):
            if self.stop_event.is_set():
                return
            tok = self.tokens[aid]
            name = self._submit(aid, session, f"w{index}-{n}-{aid}")
            self._sleep()
            if name is None or rng.random() < 0.25:
                continue
            if not self._advance(name, "offer", coordinator, "OFFERED"):
                continue
            r = rng.random()
            if r < 0.15:
                self._advance(name, "decline", tok, "DECLINED")
            elif r < 0.85:
                self._advance(name, "accept", tok, "ACCEPTED")

    @staticmethod
    def transient(call):
        return call.status >= 500 or call.status <= 0

    def _submit(self, aid, session, request_id):
        """Submits, retrying failures of unknown outcome with the same request id like a
        client would; the application's name, or None if refused (or stopped meanwhile)."""
        key = ("submit", aid, session, request_id)
        while True:
            c = self._call("submit", "POST", "/v1/applications", {
                "applicant": f"applicants/{aid}", "session": session,
                "statement": "Fault-injection workload.", "requestId": request_id},
                self.tokens[aid])
            if c.ok:
                name = c.body["name"]
                with self.mu:
                    self.owner[name] = aid
                    self.in_doubt.pop(key, None)
                self._ack(name, "SUBMITTED")
                return name
            if not self.transient(c):
                with self.mu:
                    self.in_doubt.pop(key, None)
                return None
            self._doubt(key, "submit")
            if self.stop_event.wait(self.retry_pause):
                return None  # left in doubt: settle() resolves it

    def _advance(self, name, op, tok, state):
        """Offers / accepts / declines, retrying failures of unknown outcome; True when the
        application is known to have reached `state`."""
        body = {}
        if op == "offer" and self.offer_expire_seconds:
            import datetime
            t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                seconds=self.offer_expire_seconds)
            body = {"offerExpireTime": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        retried = False
        while True:
            c = self._call(op, "POST", f"/v1/{name}:{op}", body, tok)
            self._sleep()
            if c.ok:
                self._ack(name, c.body["state"])
                return True
            if not self.transient(c):
                if retried:
                    # Refused now, but the attempt whose outcome was unknown may have worked.
                    aid = self.owner[name]
                    status, got = http_call(self.stack.base, "GET", f"/v1/{name}", None,
                                            self.tokens[aid])
                    if status == 200:
                        self._ack(name, got["state"])
                        return got["state"] == state
                    self._doubt(name, op)
                    return False
                return False
            retried = True
            self._doubt(name, op)
            if self.stop_event.wait(self.retry_pause):
                return False
            with self.mu:
                if name in self.abandoned:
                    self.in_doubt.pop(name, None)
                    return False

    def _sleep(self):
        if self.pause:
            time.sleep(self.pause)

    def settle(self, timeout=LONG):
        """Resolves every call of unknown outcome by reading and retrying, like a client."""
        deadline = time.monotonic() + timeout
        with self.mu:
            pending = {k: v for k, v in self.in_doubt.items() if k not in self.abandoned}
        resolved = 0
        for key, op in pending.items():
            while True:
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not settle {key} ({op})")
                if self._settle_one(key, op):
                    resolved += 1
                    break
                time.sleep(0.2)
        with self.mu:
            for key in pending:
                self.in_doubt.pop(key, None)
        return resolved

    def _settle_one(self, key, op):
        base = self.stack.base
        if op == "submit":
            _, aid, session, request_id = key
            status, body = http_call(base, "POST", "/v1/applications", {
                "applicant": f"applicants/{aid}", "session": session,
                "statement": "Fault-injection workload.", "requestId": request_id},
                self.tokens[aid])
            if status == 200:
                with self.mu:
                    self.owner[body["name"]] = aid
                self._ack(body["name"], "SUBMITTED")
                return True
            return 400 <= status < 500  # refused for good (e.g. session full): nothing written
        name = key
        aid = self.owner[name]
        status, body = http_call(base, "GET", f"/v1/{name}", None, self.tokens[aid])
        if status != 200:
            return False
        state = body["state"]
        before = {"offer": "SUBMITTED", "accept": "OFFERED", "decline": "OFFERED"}[op]
        if state != before:
            self._ack(name, state)
            return True
        tok = self.catalog.coordinator if op == "offer" else self.tokens[aid]
        status, body = http_call(base, "POST", f"/v1/{name}:{op}", {}, tok)
        if status == 200:
            self._ack(name, body["state"])
            return True
        return 400 <= status < 500

    def summary(self):
        with self.mu:
            calls = list(self.calls)
        by = {}
        for c in calls:
            by.setdefault(c.op, {}).setdefault(c.status, 0)
            by[c.op][c.status] += 1
        return by


def check_acked_present(redis_addr, acked):
    """Acknowledged application states missing from Redis: [(name, acked, found)]."""
    missing = []
    with Resp(redis_addr) as r:
        for name, state in acked.items():
            aid = name.split("/", 1)[1]
            found = r("HGET", f"app:application:{aid}", "state")
            found = text(found) if found else None
            if found is None or STATE_RANK[found] < STATE_RANK[state] or (
                    state in TERMINAL and found != state):
                missing.append((name, state, found))
    return missing


def outage_figures(calls, t_fault, t_back):
    """Failed calls and the window clients saw failures in, around a fault at t_fault."""
    failed = [c for c in calls if not c.ok and (c.status >= 500 or c.status <= 0)
              and c.end >= t_fault]
    first_ok_after = min((c.end for c in calls if c.ok and c.start >= t_back), default=None)
    last_fail = max((c.end for c in failed), default=None)
    return failed, first_ok_after, last_fail


def print_calls(label, calls):
    by = {}
    for c in calls:
        by.setdefault((c.op, c.status), []).append(c.seconds)
    for (op, status), secs in sorted(by.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        log(f"  {label} {op:8s} HTTP {status}: {len(secs)} calls, max {max(secs):.3f}s")


class HealthMonitor:
    """Polls the services' gRPC health and remembers when each one changed."""

    def __init__(self, stack, interval=0.1):
        self.stack, self.interval = stack, interval
        self.current = {}
        self.changes = []  # (monotonic time, service, status)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join()

    def _run(self):
        while not self.stop_event.is_set():
            for name in self.stack.SERVICES:
                status = self.stack.health(name)
                if self.current.get(name) != status:
                    self.current[name] = status
                    self.changes.append((time.monotonic(), name, status))
            time.sleep(self.interval)

    def all(self, status):
        return all(self.current.get(n) == status for n in self.stack.SERVICES)

    def first(self, status, after):
        """{service: first time it reported `status` at or after `after`}."""
        out = {}
        for t, name, s in self.changes:
            if s == status and t >= after and name not in out:
                out[name] = t
        return out


class GrpcRaw:
    """Unary calls with hand-encoded messages on one channel (no generated stubs needed)."""

    def __init__(self, addr, metadata):
        import grpc
        self.grpc = grpc
        self.channel = grpc.insecure_channel(addr)
        self.metadata = metadata

    def call(self, method, request, timeout=10):
        """(status code name, response bytes or None, seconds)."""
        fn = self.channel.unary_unary(method)
        start = time.monotonic()
        try:
            raw = fn(request, timeout=timeout, metadata=self.metadata)
            return "OK", raw, time.monotonic() - start
        except self.grpc.RpcError as e:
            return e.code().name, None, time.monotonic() - start

    def close(self):
        self.channel.close()


SERVICE_IDENTITY = (("x-clerkship-principal", "services/applicant"),
                    ("x-clerkship-role", "service"))


def seat_request(session, holder, expire_seconds=None, reason=None):
    msg = pb_encode_strings((1, session), (2, holder))
    if expire_seconds is not None:
        ts = bytes([0x08]) + _encode_varint(int(expire_seconds))  # Timestamp.seconds
        msg += bytes([(3 << 3) | 2]) + _encode_varint(len(ts)) + ts
    if reason is not None:
        msg += pb_encode_strings((3, reason))
    return msg


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


class CommandTrigger:
    """Watches Redis with MONITOR and calls `action` once, the moment a command matching
    `predicate(args)` is seen (e.g. the catalog's seat script for an application), so that a
    process can be killed between two steps of an operation without guessing the timing."""

    def __init__(self, addr, predicate, action):
        self.predicate, self.action = predicate, action
        self.fired = threading.Event()
        self.conn = Resp(addr, timeout=None)
        assert self.conn("MONITOR") == "OK"
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import shlex
        try:
            while not self.fired.is_set():
                line = self.conn.file.readline()
                if not line:
                    return
                text_line = line.decode("latin-1").rstrip("\r\n")
                bracket = text_line.find("] ")
                if not text_line.startswith("+") or bracket < 0:
                    continue
                try:
                    args = shlex.split(text_line[bracket + 2:])
                except ValueError:
                    continue
                if self.predicate(args):
                    self.action()
                    self.matched = args
                    self.fired.set()
        except (OSError, ValueError):
            return

    def close(self):
        self.conn.close()


def report_failures(errors, stack):
    """Logs each failure and, if there is any, the end of the services' logs; True when none."""
    for e in errors:
        log("FAIL " + e)
    if errors:
        print(stack.log_tail(15))
    return not errors


def tear_down(ok, stack, servers, monitor=None):
    """Stops the health monitor, the services and the Redis-side servers (in that order);
    removes their files after a pass and keeps them, saying where, after a failure.
    Returns the test's exit status."""
    if monitor:
        monitor.stop()
    stack.stop()
    for server in servers:
        server.stop()
    if ok:
        stack.cleanup()
        for server in servers:
            server.cleanup()
    else:
        kept = [stack.logs] + [server.dir for server in servers]
        log("logs kept in " + ", ".join(kept))
    log("PASS" if ok else "FAILED")
    return 0 if ok else 1


def seat_script_call(args, argc, session_prefix=""):
    """True for EVALSHA/EVAL of a catalog seat script on an application holder with `argc`
    arguments (HoldSeat: 9 with a numeric expiry 4th; ConfirmSeat: 8; each followed by two
    more when the service sends the event's encoded header), in a session whose id starts
    with `session_prefix`."""
    if not args or args[0].upper() not in ("EVALSHA", "EVAL") or len(args) < 3:
        return False
    if args[2] != "0":
        return False
    argv = args[3:]
    if len(argv) not in (argc, argc + 2) or not argv[2].startswith("applications/"):
        return False
    if not argv[1].startswith(session_prefix):
        return False
    return argc != 9 or argv[3].isdigit()


def arm_seat_trigger(redis_addr, argc, pid, session_prefix=""):
    """Starts a CommandTrigger in a process of its own (no GIL shared with the load threads,
    so the kill follows the command within a millisecond or so) that SIGKILLs `pid` when the
    seat script with `argc` arguments runs; returns once it watches."""
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "trigger", redis_addr,
                             str(argc), str(pid), session_prefix], stdout=subprocess.PIPE)
    line = proc.stdout.readline()
    if line.strip() != b"ready":
        proc.kill()
        proc.wait()
        raise AssertionError(f"the trigger did not start: {line!r}")
    return proc


def kill_on_seat_script(redis_addr, argc, pid, timeout=LONG, session_prefix="", proc=None):
    """Arms the trigger (unless `proc` is an armed one) and returns once it has fired."""
    proc = proc or arm_seat_trigger(redis_addr, argc, pid, session_prefix)
    try:
        import select
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"no seat script with {argc} arguments ran within {timeout} s")
        matched = proc.stdout.readline().decode().strip()
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise AssertionError(f"the trigger exited with {proc.returncode}")
    return matched  # "rotation session holder" of the script that triggered the kill


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "trigger":
    _addr, _argc, _pid, _prefix = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    try:  # wake up ahead of the busy services (needs privileges; best effort)
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        pass
    _trigger = CommandTrigger(_addr, lambda args: seat_script_call(args, _argc, _prefix),
                              lambda: os.kill(_pid, signal.SIGKILL))
    print("ready", flush=True)
    _trigger.fired.wait()
    print(" ".join(_trigger.matched[3:6]), flush=True)
    sys.exit(0)
