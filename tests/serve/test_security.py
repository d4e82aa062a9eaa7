"""Bind and key policy: loopback by default, any other bind refused without --api-key-env, and a
server with a key refuses a missing or wrong bearer token (checked through the openai client)."""

from __future__ import annotations

import openai
import pytest

from expertune.errors import ConfigError
from expertune.serve.config import ServeConfig, api_key, is_loopback
from expertune.serve.server import Server


def test_loopback_names():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")


def test_non_loopback_bind_refused_without_a_key(monkeypatch):
    with pytest.raises(ConfigError, match="--api-key-env VAR"):
        Server(ServeConfig(host="0.0.0.0"))  # refused before any model loads
    monkeypatch.delenv("EXPERTUNE_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="EXPERTUNE_TEST_KEY.*unset or empty"):
        api_key(ServeConfig(host="0.0.0.0", api_key_env="EXPERTUNE_TEST_KEY"))
    monkeypatch.setenv("EXPERTUNE_TEST_KEY", "s3cret")
    assert api_key(ServeConfig(host="0.0.0.0", api_key_env="EXPERTUNE_TEST_KEY")) == "s3cret"
    assert api_key(ServeConfig()) is None


def test_cli_refuses_a_public_bind_without_a_key():
    import typer
    from typer.testing import CliRunner

    from expertune.cli import serve

    app = typer.Typer()
    app.callback()(lambda: None)
    serve.register(app)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert isinstance(result.exception, ConfigError) and "--api-key-env" in str(result.exception)


@pytest.mark.integration
def test_a_server_with_a_key_refuses_missing_and_wrong_keys(monkeypatch):
    import httpx

    monkeypatch.setenv("EXPERTUNE_TEST_KEY", "right-key")
    server = Server(ServeConfig(port=0, api_key_env="EXPERTUNE_TEST_KEY"))
    url = server.start()
    try:
        for wrong in ("wrong-key", "right-ke", "right-key2"):
            client = openai.OpenAI(base_url=url + "/v1", api_key=wrong, max_retries=0)
            with pytest.raises(openai.AuthenticationError) as err:
                client.models.list()
            assert err.value.code == "invalid_api_key"
        assert httpx.get(url + "/v1/models").status_code == 401
        assert httpx.get(url + "/metrics").status_code == 401
        good = openai.OpenAI(base_url=url + "/v1", api_key="right-key", max_retries=0)
        out = good.chat.completions.create(model=server.base, messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
        assert out.choices[0].message.content
    finally:
        server.close()
