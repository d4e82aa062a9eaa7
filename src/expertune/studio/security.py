"""Who may use the studio, who made a change, and CSRF protection.

- Binding: 127.0.0.1 (or another loopback address) by default. Any other address exposes the
  workspace to the network, so it is refused unless a token is set (`check_bind`).
- Token: with `--token`, every request needs the `expertune_auth` cookie, which the login page sets
  after the user types the token. The cookie holds an HMAC of the token, never the token itself.
- Who: every change records a name. The name is the `expertune_user` cookie the user chooses on the
  "who are you" form, defaulting to the login name of whoever started the studio.
- CSRF: a random per-browser secret in the `expertune_csrf` cookie (SameSite=Strict); every
  state-changing request must echo it in a `csrf` form field or an `X-CSRF-Token` header. A page on
  another site can make the browser send the cookie, but cannot read it to echo it.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import ipaddress
import re
import secrets
import socket

from fastapi import Request

from expertune.errors import ConfigError, ExpertuneError, InputError

AUTH_COOKIE = "expertune_auth"
CSRF_COOKIE = "expertune_csrf"
USER_COOKIE = "expertune_user"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NAME_RE = re.compile(r"^[\w .@'-]{1,80}$")


class Forbidden(ExpertuneError):
    """A request without a valid CSRF token or login."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose a workspace beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"--host {host}: the studio would be reachable from other machines without a login; "
            f"pass --token SECRET (users then log in with it) or bind 127.0.0.1")


def auth_value(token: str) -> str:
    return hmac.new(token.encode(), b"expertune-studio-auth", hashlib.sha256).hexdigest()


def is_logged_in(request: Request, token: str | None) -> bool:
    if not token:
        return True
    cookie = request.cookies.get(AUTH_COOKIE, "")
    return hmac.compare_digest(cookie, auth_value(token))


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def csrf_token(request: Request) -> str:
    """This browser's CSRF secret; a new one (set as a cookie by the middleware) on its first visit."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = request.state.new_csrf = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        sent = form.get("csrf")
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
        raise Forbidden("this form is out of date or did not come from the studio (CSRF check failed); "
                        "reload the page and try again")


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "studio"


def current_user(request: Request) -> str:
    name = request.cookies.get(USER_COOKIE)
    if name and NAME_RE.match(name):
        return name
    return request.app.state.default_user


def valid_name(name: str) -> str:
    name = name.strip()
    if not NAME_RE.match(name):
        raise InputError(f"name {name!r}: use 1-80 letters, digits, spaces or . @ ' -")
    return name
