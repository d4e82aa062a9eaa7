import socket

import pytest

from expertune.errors import ConfigError
from expertune.listen import listening_socket


def test_a_free_port_is_bound_and_listening():
    sock = listening_socket("127.0.0.1", 0)
    try:
        client = socket.create_connection(sock.getsockname()[:2], timeout=5)
        client.close()
    finally:
        sock.close()


def test_a_busy_port_names_the_address_and_the_fix():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"127\.0\.0\.1:{port}.*--port"):
            listening_socket("127.0.0.1", port)


def test_an_unknown_host_says_which_address_to_give():
    with pytest.raises(ConfigError, match="--host"):
        listening_socket("no-such-host.invalid", 8000)
