"""Starts the whole platform as separate processes for end-to-end tests.

Redis comes from CLERKSHIP_TEST_REDIS_ADDR (tests/run starts a throwaway one) or is started here
on a free port; the four services and the gateway are the real binaries from the build's bin/
directory, on free ports, talking to each other over gRPC.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, name, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not open port {port}")


class Stack:
    SERVICES = ["catalog", "applicant", "matching", "notification"]

    def __init__(self, bin_dir, jwt_secret="e2e-secret-0123456789abcdef0123456789",
                 own_redis=False):
        """own_redis: start a Redis of its own even when CLERKSHIP_TEST_REDIS_ADDR names a
        shared one (which start() flushes), so tests that CTest runs in parallel with the
        e2e story do not wipe each other's data."""
        self.bin_dir = bin_dir
        self.own_redis = own_redis
        self.jwt_secret = jwt_secret
        self.procs = []
        self.logs = tempfile.mkdtemp(prefix="clerkship-e2e-")
        self.redis_proc = None
        self.ports = {}

    def start(self):
        redis = None if self.own_redis else os.environ.get("CLERKSHIP_TEST_REDIS_ADDR")
        if redis:
            self.redis_addr = redis
            host, port = redis.rsplit(":", 1)
            self._redis_cli(["FLUSHALL"])
        else:
            port = free_port()
            self.redis_proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--dir", self.logs, "--logfile", os.path.join(self.logs, "redis.log")])
            self.redis_addr = f"127.0.0.1:{port}"
            wait_port(port, self.redis_proc, "redis")
        for name in self.SERVICES:
            self.ports[name] = free_port()
        self.ports["gateway"] = free_port()
        env = dict(os.environ)
        env.update({
            "CLERKSHIP_REDIS_ADDR": self.redis_addr,
            "CLERKSHIP_CATALOG_ADDR": f"127.0.0.1:{self.ports['catalog']}",
            "CLERKSHIP_APPLICANT_ADDR": f"127.0.0.1:{self.ports['applicant']}",
            "CLERKSHIP_MATCHING_ADDR": f"127.0.0.1:{self.ports['matching']}",
            "CLERKSHIP_NOTIFICATION_ADDR": f"127.0.0.1:{self.ports['notification']}",
            "CLERKSHIP_JWT_SECRET": self.jwt_secret,
            "CLERKSHIP_DRAIN_PERIOD": "0s",
            "CLERKSHIP_METRICS_PORT": "0",
        })
        self.env = env
        for name in self.SERVICES + ["gateway"]:
            self._start(name, [f"--port={self.ports[name]}"])
        self.base = f"127.0.0.1:{self.ports['gateway']}"
        self._wait_ready()
        return self

    def _start(self, name, args):
        binary = os.path.join(self.bin_dir, f"clerkship-{name}")
        log = open(os.path.join(self.logs, f"{name}.log"), "wb")
        proc = subprocess.Popen([binary] + args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, proc, log))
        wait_port(self.ports[name], proc, name)

    def _wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, _, _ = self.request("GET", "/readyz")
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("gateway never became ready:\n" + self.log_tail())

    def _redis_cli(self, args):
        host, port = self.redis_addr.rsplit(":", 1)
        subprocess.run(["redis-cli", "-h", host, "-p", port] + args, check=True,
                       stdout=subprocess.DEVNULL)

    def log_text(self, name):
        with open(os.path.join(self.logs, f"{name}.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=20):
        out = []
        for name, _, _ in self.procs:
            text = self.log_text(name).splitlines()[-lines:]
            out.append(f"--- {name}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self):
        for name, proc, log in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc, log in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
        if self.redis_proc:
            self.redis_proc.kill()
            self.redis_proc.wait()

    def cleanup(self):
        shutil.rmtree(self.logs, ignore_errors=True)

    def token(self, sub, role, site=None, ttl="1h"):
        args = [os.path.join(self.bin_dir, "clerkship-admin"), "token", "--sub", sub, "--role", role,
                "--ttl", ttl]
        if site:
            args += ["--site", site]
        out = subprocess.run(args, env=self.env, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def request(self, method, path, body=None, token=None, headers=None, raw=None, timeout=15):
        conn = http.client.HTTPConnection(self.base, timeout=timeout)
        h = {"Accept": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        if headers:
            h.update(headers)
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        return resp.status, parsed, dict(resp.getheaders())


def query(path, **params):
    return path + "?" + urllib.parse.urlencode(params, doseq=True)


def personal_data_in_log(text, emails=(), scores=()):
    """The lines of a log that carry personal data: one of the e-mail addresses, an exam
    score field, or one of the score values as a logged value ("score":247, step2ck=247).
    Numbers inside other values (a duration of 0.247 ms, an id) do not count."""
    found = []
    value = None
    if scores:
        numbers = "|".join(str(int(v)) for v in scores)
        value = re.compile(r'(?:[:=]\s*"?)(?:' + numbers + r')(?![\w.])')
    for line in text.splitlines():
        if any(e in line for e in emails):
            found.append(line)
        elif re.search(r"step_?2_?ck", line, re.IGNORECASE):
            found.append(line)
        elif value is not None and value.search(line):
            found.append(line)
    return found
