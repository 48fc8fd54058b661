"""First steps on the command line (issue 21, part 7): every list command prints a header row, and the server says
where its pages are when it starts — and, for a database that is not the demo's, no logins and no password (the
demo's logins are checked on the simulated city in tests/api/test_demo_month.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from tests.api.test_cli import run

HEADERS = {
    ("users", "list"): "id\tusername\tname\trole\tcommunity\tsubdistrict\tunit\tgrids\temail\tsimulated\tpost\tscope",
    ("apikeys", "list"): "id\tname\tstate\tcreated\texpires\tlast used",
    ("categories", "list"): "code\tname_zh\tname_en\tkind\tlevel\tdeadline\tseverity",
    ("responsibility", "list"): "category\tlevel\tunit_type\tpriority\tprofile\tunits\tnote",
    ("checklists", "list"): "code\tversion\ttarget\tfrequency\titems\ttitle_zh\ttitle_en",
    ("notify", "list"): "id\towner\tkind\taddress\tstate",
    ("shops", "list"): "code\tname\tkind\tgrid\tbuilding\tlast inspection\topen findings",
}


def test_list_commands_print_a_header_row(fresh_url):
    for setup in (("categories", "load"), ("checklists", "load"), ("apikeys", "add", "hotline")):
        assert run(fresh_url, *setup).exit_code == 0
    r = run(fresh_url, "users", "add", "wang", "--role", "admin", "--name", "王芳", "--password-stdin",
            stdin="a long enough pass phrase 7\n")
    assert r.exit_code == 0, r.output
    assert run(fresh_url, "notify", "add", "--user", "wang", "--email", "wang@example.org").exit_code == 0
    for command, header in HEADERS.items():
        r = run(fresh_url, *command)
        lines = r.stdout.splitlines()
        assert r.exit_code == 0 and lines[0] == header, (command, r.stdout)
        if command != ("shops", "list"):  # no shops: the header and "0 shops"
            width = len(header.split("\t"))
            assert len(lines) > 1 and all(len(line.split("\t")) == width for line in lines[1:]), (command, lines)
    assert run(fresh_url, "notify", "list").stdout.splitlines()[1].endswith("\temail\twang@example.org\tactive")


def test_serve_prints_where_the_pages_are_and_no_logins_for_a_database_not_the_demo(fresh_url):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GRIDPATROL_DATABASE_URL": fresh_url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.stderr is not None:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("log in with") or line.startswith("demo logins"):
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    base = f"http://127.0.0.1:{port}"
    assert lines and lines[0] == f"gridpatrol serves {base}/", lines
    for path in ("/dashboard", "/desk", "/app/", "/planner", "/login", "/docs"):
        assert any(line.strip().startswith(f"{base}{path} ") for line in lines), (path, lines)
    assert lines[-1].startswith("log in with a user made by `gridpatrol users add")
    assert not any("demo-pass" in line or "password" in line for line in lines)
