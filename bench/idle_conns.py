#!/usr/bin/env python3
"""Hold N idle keep-alive HTTP connections open against a server.

    idle_conns.py HOST PORT N PATH

Opens N connections, sends one GET PATH on each (HTTP/1.1, keep-alive) and
reads the answer, so every connection is a served, idle keep-alive
connection, then prints "held N" and keeps them open until stdin closes.
bench.py reads the server's RSS meanwhile.
"""
import errno
import resource
import selectors
import socket
import sys
import time


def main():
    host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path, host, port)).encode()
    sel = selectors.DefaultSelector()
    socks = []
    done = 0
    failed = 0
    deadline = time.time() + 120
    batch = 256
    pending = {}
    while (done + failed < n) and time.time() < deadline:
        # keep at most `batch` connections in flight
        while len(pending) < batch and len(socks) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((host, port))
            if rc not in (0, errno.EINPROGRESS):
                failed += 1
                s.close()
                continue
            socks.append(s)
            pending[s] = [False, b""]
            sel.register(s, selectors.EVENT_WRITE)
        for key, ev in sel.select(timeout=1.0):
            s = key.fileobj
            st = pending.get(s)
            if st is None:
                continue
            if not st[0]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    failed += 1
                    sel.unregister(s)
                    del pending[s]
                    continue
                s.send(req)
                st[0] = True
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                failed += 1
                sel.unregister(s)
                del pending[s]
                continue
            st[1] += data
            head, sep, rest = st[1].partition(b"\r\n\r\n")
            if sep:
                clen = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        clen = int(v.strip())
                if len(rest) >= clen:
                    done += 1
                    sel.unregister(s)
                    del pending[s]
    print("held %d failed %d" % (done, failed), flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
