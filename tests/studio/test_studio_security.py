"""The studio's guards: bind address, token login, CSRF, escaping of user text, who made a change."""

import pytest
from sqlalchemy import select

from expertune.errors import ConfigError
from expertune.store import repo
from expertune.store.tables import Response, Revision
from expertune.studio.security import check_bind
from studio_helpers import MARKUP, client, fill, post

PAGES = ["/", "/review", "/responses/1", "/groups/1", "/checks", "/me"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_binds_need_no_token(host):
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_other_binds_are_refused_without_a_token(host):
    with pytest.raises(ConfigError, match="--token"):
        check_bind(host, None)
    check_bind(host, "s3cret")


def test_token_is_required_for_every_page(ws):
    fill(ws)
    from fastapi.testclient import TestClient
    from expertune.studio import create_app

    anon = TestClient(create_app(ws, token="s3cret"), follow_redirects=False)
    for url in PAGES:
        r = anon.get(url)
        assert r.status_code == 303 and r.headers["location"] == "/login", url
    anon.get("/login")
    r = anon.post("/login", data={"token": "wrong", "csrf": anon.cookies.get("expertune_csrf")})
    assert r.status_code == 403
    assert anon.post("/responses/1/set", data={"version": 1, "status": "rejected"}).status_code == 403
    c = client(ws, token="s3cret")
    assert all(c.get(url).status_code == 200 for url in PAGES)
    assert "s3cret" not in c.cookies.get("expertune_auth")


def test_state_changes_without_the_csrf_token_are_refused(ws):
    fill(ws)
    c = client(ws)
    for data in ({"version": 1, "status": "rejected"}, {"version": 1, "status": "rejected", "csrf": "forged"}):
        r = c.post("/responses/1/set", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/responses/1/set", data={"version": 1, "status": "rejected"},
               headers={"X-CSRF-Token": c.cookies.get("expertune_csrf")})
    assert r.status_code == 200
    with ws.session() as s:
        assert s.get(Response, 1).status == "rejected"
        assert [v.author for v in repo.revisions(s, "response", 1)] == ["alice"]


def test_markup_in_every_field_is_shown_as_text(ws):
    fill(ws, topic=MARKUP, extra=MARKUP)
    c = client(ws, user="eve")
    r = post(c, "/responses/1/edit", {"version": 1, "text": "edited " + MARKUP, "reason": MARKUP})
    assert r.status_code == 200
    post(c, "/checks/run")
    for url in PAGES + ["/review?topic=" + MARKUP, "/checks/fix/redact"]:
        page = c.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page, url
    page = c.get("/responses/1").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page  # shown as written, not evaluated as a template


def test_pages_forbid_inline_scripts(ws):
    fill(ws)
    r = client(ws).get("/review")
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_a_bad_user_name_is_refused_and_a_good_one_recorded(ws):
    fill(ws)
    c = client(ws)
    assert post(c, "/me", {"name": "<b>x</b>"}).status_code == 400
    c.cookies.delete("expertune_user")
    post(c, "/me", {"name": "Dr. Ada O'Neil"})
    post(c, "/responses/2/set", {"version": 1, "rating": 4})
    with ws.session() as s:
        assert s.scalar(select(Revision.author).where(Revision.entity_id == 2)) == "Dr. Ada O'Neil"


def test_serve_refuses_a_public_bind_before_starting(ws):
    from expertune.studio import serve

    with pytest.raises(ConfigError, match="--host 0.0.0.0"):
        serve(ws, host="0.0.0.0", port=1, open_browser=False)


def test_pages_forbid_inline_scripts_and_the_report_keeps_its_own_policy(tmp_path):
    from fastapi import Response

    from expertune.studio import create_app
    from expertune.workspace import Workspace
    from fastapi.testclient import TestClient

    app = create_app(Workspace.init(tmp_path / "ws"))

    @app.get("/own-policy")
    def own_policy():
        return Response("x", headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    c = TestClient(app)
    assert "script-src 'self'" in c.get("/").headers["content-security-policy"]
    assert c.get("/own-policy").headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
