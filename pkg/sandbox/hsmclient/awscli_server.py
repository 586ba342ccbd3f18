# The AWS CLI start server of the sandbox's emulated instance (see awscli.go): the real AWS CLI's
# Python modules imported once, then one forked child per `aws` run, which runs the CLI's own
# script (runpy, as `python3 <cli>` would) with the run's argv, environment, working directory and
# standard streams, and reports its exit code. Only the interpreter start, the imports and the
# data loader's read-only files (below) are shared; each run builds its own session, reads its own
# environment and credentials and makes its own calls.
#
# Protocol, one connection per run on the Unix socket argv[1]: the client sends a 4-byte
# big-endian length, then that many bytes of JSON {"argv": [...], "env": [...], "dir": "..."}; its
# stdin, stdout and stderr travel as SCM_RIGHTS file descriptors with the first byte. The child
# answers with its exit code as a 4-byte big-endian signed integer and closes, or with REFUSED,
# before anything runs, when the run's environment would not import the CLI as the server did. If the client goes
# away first (its process group was killed), the child kills itself, as the run would have died.
# The server exits when its own stdin reaches end of file: the sandbox that started it is gone.
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import traceback

SOCKET_PATH, CLI = sys.argv[1], sys.argv[2]

# What the interpreter's start and the CLI's imports read from the environment: the locale and
# PYTHON* settings (the interpreter), HOME (paths under ~/.aws fixed at import) and AWS_DATA_PATH
# (which importing awscli extends and writes back). A run whose values differ from the server's
# own is refused before it starts (REFUSED), and the shim starts the CLI itself.
IMPORT_KEYS = ("HOME", "AWS_DATA_PATH", "LANG", "LC_ALL", "LC_CTYPE")
REFUSED = -1000
RECEIVE_TIMEOUT = 10  # seconds


def import_env(env):
    return {k: v for k, v in env.items() if k in IMPORT_KEYS or k.startswith("PYTHON")}


BEFORE = dict(os.environ)
import awscli.clidriver  # noqa: E402,F401 -- the imports every run shares
import runpy  # noqa: E402

# Two more things every run does before its command, with the same result each time, done once
# here: importing the CLI's built-in plugin module (load_plugins imports awscli.handlers on every
# run), and asking which Linux this is for the User-Agent (the distro module runs lsb_release once
# and caches the answer in the module). Together they are about 40% of a run's CPU.
import awscli.handlers  # noqa: E402,F401

try:
    import distro  # noqa: E402

    distro.id()
    distro.major_version()
except ImportError:  # a CLI that does not use distro
    pass

# The environment changes the imports made (AWS_DATA_PATH), re-applied to every run, as a fresh
# start of the CLI would make them after the run's environment is in place.
IMPORT_CHANGES = {k: v for k, v in os.environ.items() if BEFORE.get(k) != v}

# The data loader is shared: every run's session gets the one loader for its data path (the path
# comes from AWS_DATA_PATH, fixed for this server) instead of a new one, so what it has read stays
# read. This process fills it: the service list and endpoint data now, and each service's models
# once a run names the service (warm, after the run is forked). A run still reads what no earlier
# run used. The loader's data are the CLI's own read-only files; a model added under
# ~/.aws/models after its service was first used is not seen (the emulated instance adds none).
import botocore.exceptions  # noqa: E402
import botocore.session  # noqa: E402

_loaders = {}
_create_loader = botocore.session.create_loader


def _shared_loader(search_path_string=None):
    loader = _loaders.get(search_path_string)
    if loader is None:
        loader = _loaders[search_path_string] = _create_loader(search_path_string)
    return loader


botocore.session.create_loader = _shared_loader
LOADER = botocore.session.Session().get_component("data_loader")
SERVICES = set(LOADER.list_available_services("service-2"))
for _name in ("endpoints", "partitions"):
    LOADER.load_data(_name)
WARM = set()


def warm(argv):
    # Every argument that names a service loads its models (a secret id that happens to be a
    # service name loads one more, harmlessly).
    for svc in set(argv) & SERVICES - WARM:
        WARM.add(svc)
        for type_name in ("service-2", "paginators-1", "waiters-2", "endpoint-rule-set-1"):
            try:
                LOADER.load_service_model(svc, type_name)
            except botocore.exceptions.DataNotFoundError:
                pass


# Forking is safe only while this process has one thread: a native library that started its own
# (awscrt's logger does, once a command runs) would leave the children with its locks held.
if len(os.listdir("/proc/self/task")) != 1:
    sys.exit("importing the AWS CLI started threads: its runs cannot be forked from this process")


def recv_exact(conn, n, fds_wanted=0):
    data, fds = b"", []
    while len(data) < n:
        if fds_wanted and not fds:
            chunk, got, _, _ = socket.recv_fds(conn, n - len(data), fds_wanted)
            fds.extend(got)
        else:
            chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("client closed the connection")
        data += chunk
    return data, fds


def watch(conn):
    # Any byte or end of file from the client means it is gone: die as the run would have.
    try:
        conn.recv(1)
    finally:
        os.kill(os.getpid(), signal.SIGKILL)


def receive(conn):
    head, fds = recv_exact(conn, 4, fds_wanted=3)
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise RuntimeError("expected 3 file descriptors, got %d" % len(fds))
    (length,) = struct.unpack("!I", head)
    body, _ = recv_exact(conn, length)
    return json.loads(body), fds


def run(conn, req, fds):
    env = {}
    for kv in req["env"]:
        k, _, v = kv.partition("=")
        env[k] = v
    if import_env(env) != import_env(BEFORE):
        conn.sendall(struct.pack("!i", REFUSED))
        return 0
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
        os.close(fd)
    os.chdir(req["dir"])
    os.environ.clear()
    os.environ.update(env)
    os.environ.update(IMPORT_CHANGES)
    sys.argv = [CLI] + req["argv"][1:]
    threading.Thread(target=watch, args=(conn,), daemon=True).start()
    code = 0
    try:
        runpy.run_path(CLI, run_name="__main__")
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: B036 -- an uncaught error ends a run as the interpreter would
        traceback.print_exc()
        code = 1
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    conn.sendall(struct.pack("!i", code))
    return code


def main():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are not waited for
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(SOCKET_PATH)
    srv.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        ready, _, _ = select.select([srv, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
            return
        if srv not in ready:
            continue
        conn, _ = srv.accept()
        # The request is read here, so this process learns which service the run calls; a client
        # that connects and sends nothing is dropped after RECEIVE_TIMEOUT.
        try:
            conn.settimeout(RECEIVE_TIMEOUT)
            req, fds = receive(conn)
            conn.settimeout(None)
        except Exception:  # noqa: BLE001 -- a broken request ends only that connection
            traceback.print_exc()
            conn.close()
            continue
        if os.fork():
            conn.close()
            for fd in fds:
                os.close(fd)
            warm(req["argv"][1:])
            continue
        srv.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        code = 1
        try:
            code = run(conn, req, fds)
        except BaseException:
            traceback.print_exc()
        os._exit(code & 0xFF)


if __name__ == "__main__":
    main()
