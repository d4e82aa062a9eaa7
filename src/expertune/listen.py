"""Open the listening socket of a server before the server starts.

uvicorn reports a port already in use by logging and exiting the process with status 1; binding the
socket ourselves first turns that into a ConfigError that names the address and the fix, and the
bound socket is handed to uvicorn, so nothing else can take the port in between.
"""

from __future__ import annotations

import socket

from expertune.errors import ConfigError


def listening_socket(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; give --host an address of this "
                          "machine, e.g. 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another port with --port, "
                          "or stop what is using it") from None
    sock.set_inheritable(True)
    return sock
