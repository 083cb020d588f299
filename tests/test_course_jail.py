"""The grading jail, probed from inside: read-only mounts, private /tmp and /dev, no network, limits, channels."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
from pathlib import Path

import pytest
from test_course_support import make_bundle, sleepers, write_notebook

from tcpkit.course import Limits, load_bundle
from tcpkit.course.cells import run_cells
from tcpkit.course.channel import (
    ChannelClosed,
    ForgedFrame,
    FrameTooLarge,
    Reader,
    RecordReader,
    RecordWriter,
    Writer,
    encode_frame,
    new_key,
)
from tcpkit.course.grade import grade_submission
from tcpkit.course.sandbox import hide_plan, isolation, kept_under_tmp

NAMESPACE = isolation() == "namespace"
needs_namespace = pytest.mark.skipif(not NAMESPACE, reason="user namespaces are not available here")
ROOT = os.geteuid() == 0

WRITE_EVERYWHERE = r"""
import os
targets = set()
with open("/proc/self/mountinfo") as f:
    targets |= {line.split()[4] for line in f}
targets |= {"/", "/dev", "/dev/shm", "/run", "/run/netns", "/sys/fs/cgroup", "/tmp", "/var/tmp", "/root", "/etc", HERE}
writable = []
for d in sorted(targets):
    p = os.path.join(d, "tcpkit-jail-probe-%d" % os.getpid())
    try:
        with open(p, "w") as f:
            f.write("x")
        writable.append(d)
        os.remove(p)
    except OSError:
        pass
"""


@needs_namespace
def test_every_mount_is_read_only_except_the_private_scratch(tmp_path: Path) -> None:
    code = f"HERE = {str(tmp_path)!r}\n" + WRITE_EVERYWHERE
    run = run_cells([code, "n = len(targets)"], ["writable", "n"])
    assert run.answers["writable"] == ["/tmp"], run.answers
    assert run.answers["n"] >= 10
    assert list(tmp_path.iterdir()) == []


@needs_namespace
def test_private_dev_tmp_pids_no_network_no_capabilities(request: pytest.FixtureRequest) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # not under /tmp (the jail's own /tmp covers all of it anyway): the folder must be hidden by name
    secret = Path(
        tempfile.mkdtemp(prefix="tcpkit-test-grading-", dir="/var/tmp" if os.access("/var/tmp", os.W_OK) else None)
    )
    request.addfinalizer(lambda: shutil.rmtree(secret, ignore_errors=True))
    (secret / "hw1-solutions.ipynb").write_text("answers")
    probe = f"""
import os, socket
dev = sorted(os.listdir("/dev"))
with open("/dev/null", "w") as f:
    f.write("fine")
random_bytes = len(open("/dev/urandom", "rb").read(16))
tmp = sorted(os.listdir("/tmp"))
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
nets = [n for _, n in socket.if_nameindex()]
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    reached = True
except OSError:
    reached = False
try:
    hidden = os.listdir({str(secret)!r})
except OSError as e:
    hidden = e.errno
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
caps = [status[k].strip() for k in ("CapEff", "CapBnd", "CapPrm", "NoNewPrivs")]
cwd = os.getcwd()
try:
    home = sorted(os.listdir({str(Path.home())!r}))
except OSError:
    home = []
"""
    names = ["dev", "random_bytes", "tmp", "pids", "nets", "reached", "hidden", "caps", "cwd", "home"]
    run = run_cells([probe], names, hide=[secret])
    listener.close()
    a = run.answers
    assert a["dev"] == ["null", "urandom", "zero"] and a["random_bytes"] == 16
    # the private /tmp holds the submission, plus (read-only) Python or tcpkit if they live under /tmp
    kept = sorted({Path(k).relative_to("/tmp").parts[0] for k in kept_under_tmp()})
    assert a["tmp"] == sorted(["submission.ipynb", *kept]) and a["cwd"] == "/tmp"
    assert 1 in a["pids"] and len(a["pids"]) <= 3  # the supervisor, the student: nothing of this machine
    assert a["nets"] == ["lo"] and a["reached"] is False
    assert a["hidden"] in ([], 13) and (secret / "hw1-solutions.ipynb").exists()
    assert a["caps"] == ["0000000000000000", "0000000000000000", "0000000000000000", "1"]
    # the grader's home folder is hidden: only what Python and tcpkit need shows through
    needed = [p for h in hide_plan([Path.home()]) for p in h["keep"]]
    assert all(any(k.startswith(str(Path.home() / e)) for k in needed) for e in a["home"]), a["home"]
    assert len(a["home"]) < len(os.listdir(Path.home())) or not os.listdir(Path.home())


@needs_namespace
def test_process_and_file_limits_bind_inside_the_jail() -> None:
    forks = """
import os, time
made = 0
for _ in range(40):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    made += 1
"""
    files = """
made_files = 0
for i in range(500):
    try:
        open(f"f{i}", "w").close()
        made_files += 1
    except OSError:
        break
written = 0
try:
    with open("big", "wb") as f:
        for _ in range(40):
            f.write(b"x" * 2**20)
            written += 1
except OSError as e:
    full = e.errno
"""
    run = run_cells(
        [files, forks],
        ["made", "made_files", "written", "full"],
        limits=Limits(processes=8, files=64, scratch_mb=4, timeout=30),
    )
    a = run.answers
    assert 40 < a["made_files"] < 64  # the tmpfs has 64 inodes (a few are taken)
    assert a["written"] <= 4 and a["full"] in (27, 28)  # EFBIG or ENOSPC
    if not ROOT:
        assert 0 < a["made"] < 8  # RLIMIT_NPROC counts the supervisor and the student too
    else:
        # root is exempt from RLIMIT_NPROC (kernel/fork.c, copy_process): the supervisor counts the
        # processes and stops the submission at the next look
        assert run.stopped is not None and "processes at once (limit 8)" in run.stopped["why"], run.stopped
    assert run.end["survivors"] == 0


@needs_namespace
def test_a_fork_bomb_meets_a_hard_ceiling() -> None:
    bomb = """
import os
made = 0
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "30"])
    made += 1
"""
    probe = "pid_max = int(open('/proc/sys/kernel/pid_max').read())"
    run = run_cells([probe, bomb], ["pid_max", "made"], limits=Limits(processes=8, timeout=30, memory_mb=2048))
    assert run.end["survivors"] == 0
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    if (major, minor) >= (6, 14):  # pid_max is per PID namespace: a ceiling the kernel keeps, even for root
        assert run.answers["pid_max"] == 301
    made = run.answers.get("made")
    if made is not None:  # the loop ended before the supervisor's next look: the kernel stopped it
        assert made < (8 if not ROOT else 301)
    else:
        assert run.stopped is not None and "processes at once (limit 8)" in run.stopped["why"]


@needs_namespace
def test_memory_of_all_processes_together_is_limited() -> None:
    hog = """
import os, time
for _ in range(4):
    if os.fork() == 0:
        block = bytearray(150 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(30)
        os._exit(0)
time.sleep(20)
done = True
"""
    run = run_cells([hog], ["done"], limits=Limits(memory_mb=400, timeout=25, cell_timeout=25))
    assert run.stopped is not None and run.stopped["status"] == "limit", run.stopped
    assert "MB of memory together (limit 400 MB)" in run.stopped["why"]
    assert "done" not in run.answers and run.end["survivors"] == 0


@needs_namespace
def test_cpu_time_of_all_processes_together_is_limited() -> None:
    spin = """
import os, time
for _ in range(3):
    if os.fork() == 0:
        while True:
            pass
time.sleep(20)
"""
    run = run_cells([spin], [], limits=Limits(timeout=25, cell_timeout=25, cpu_s=2))
    assert run.stopped is not None and run.stopped["status"] == "limit"
    assert "s of CPU time together (limit 2 s)" in run.stopped["why"]


LEAVE_SLEEPERS = """
import os
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["tcpkit-jail-test-sleeper", "600"])
        os._exit(0)
    os.waitpid(pid, 0)
session_leader = os.getsid(0) == os.getpid()
"""


def test_fallback_kills_detached_grandchildren_and_still_drops_capabilities() -> None:
    run = run_cells(
        [LEAVE_SLEEPERS, "caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]"],
        ["session_leader", "caps"],
        limits=Limits(isolation="fallback", timeout=20),
    )
    assert run.mode == "fallback"
    assert run.answers["session_leader"] is True and run.answers["caps"] == "0000000000000000"
    assert run.end["survivors"] == 0 and run.end["processes_at_end"] >= 11
    assert sleepers("tcpkit-jail-test-sleeper") == []


def test_fallback_catches_orphans_even_when_the_student_kills_its_supervisor(tmp_path: Path) -> None:
    bundle = load_bundle(make_bundle(tmp_path / "b", "orphans", {"q1": [(">>> x\n1\n", False)]}))
    cells = ["x = 1", LEAVE_SLEEPERS, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"]
    nb = write_notebook(tmp_path / "orphans.ipynb", cells, assignment="orphans")
    r = grade_submission(nb, bundle, limits=Limits(isolation="fallback", timeout=20))
    assert r.scores == {"q1": 2.0}
    assert r.status == "crashed" or "stopped" in r.note  # its supervisor is gone: the run ends there
    assert (
        sleepers("tcpkit-jail-test-sleeper") == []
    )  # the scoring process is a subreaper too, and kills what reaches it


# ----------------------------------------------------------------------------- channels


def test_frames_are_authenticated_in_order_and_never_cut() -> None:
    key = new_key()
    r, w = os.pipe()
    out = Writer(w, key, b"jail>checker")
    out.send({"n": 1})
    reader = Reader(r, key, b"jail>checker", limit=1000)
    assert reader.receive(5) == {"n": 1}
    os.write(w, encode_frame({"answers": {"q1": 10}}, new_key(), b"jail>checker", 1))  # another key: forged
    with pytest.raises(ForgedFrame):
        reader.receive(5)
    r2, w2 = os.pipe()
    frame = encode_frame({"n": 2}, key, b"jail>checker", 0)
    os.write(w2, frame + frame)  # a replayed frame fails its sequence number
    again = Reader(r2, key, b"jail>checker")
    assert again.receive(5) == {"n": 2}
    with pytest.raises(ForgedFrame):
        again.receive(5)
    r3, w3 = os.pipe()
    Writer(w3, key, b"x").send({"blob": "y" * 5000})
    with pytest.raises(FrameTooLarge, match="larger than the 0.00095"):
        Reader(r3, key, b"x", limit=1000).receive(5)
    os.close(w)
    with pytest.raises(ChannelClosed):
        reader.receive(5)


def test_bytes_written_into_the_student_channel_never_join_a_real_message() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sender = RecordWriter(theirs.fileno())
    os.write(theirs.fileno(), b'TCPKIT-ANSWERS {"answers": {}}\n')  # an old-style forged line
    os.write(theirs.fileno(), struct.pack(">I", 2**31) + b"{}")  # a huge length prefix
    os.write(theirs.fileno(), struct.pack(">4sIII", b"TKR1", 99, 5, 2) + b"half")  # index 5 of 2 chunks
    sender.send({"op": "cell", "n": 1, "answers": {"big": "z" * 200_000}})  # several records
    reader = RecordReader(ours.fileno(), limit=10**6)
    msg = reader.receive(5)
    assert msg["n"] == 1 and len(msg["answers"]["big"]) == 200_000
    assert reader.garbage == 3
