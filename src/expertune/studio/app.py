"""The studio's FastAPI app for one workspace: security middleware, error pages, the page routers."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from expertune.errors import ExpertuneError, NotFound, StaleEditError
from expertune.studio import security
from expertune.studio.pages import author, checks, evaluate, human, overview, review, train
from expertune.studio.web import HERE, redirect, render
from expertune.workspace import Workspace

OPEN_PATHS = ("/login", "/static/")


async def _guard(request: Request) -> None:
    """Runs before every route: state-changing requests must carry the CSRF token."""
    if request.method not in security.SAFE_METHODS:
        await security.check_csrf(request)


def create_app(ws: Workspace, *, token: str | None = None, default_user: str | None = None) -> FastAPI:
    app = FastAPI(title="expertune studio", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(_guard)])
    app.state.workspace = ws
    app.state.token = token
    app.state.default_user = default_user or security.default_user()

    @app.middleware("http")
    async def login_and_cookies(request: Request, call_next) -> Response:
        if not security.is_logged_in(request, token) and not request.url.path.startswith(OPEN_PATHS):
            if request.method in security.SAFE_METHODS:
                return redirect("/login")
            return PlainTextResponse("log in first", status_code=403)
        response = await call_next(request)
        new = getattr(request.state, "new_csrf", None)
        if new and not request.cookies.get(security.CSRF_COOKIE):
            response.set_cookie(security.CSRF_COOKIE, new, httponly=True, samesite="strict")
        # Pages show user text; forbid inline scripts and framing so injected markup cannot run. A page
        # that sets its own, stricter policy (the standalone report: inline styles, no scripts) keeps it.
        response.headers.setdefault("Content-Security-Policy", (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"))
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.exception_handler(ExpertuneError)
    async def user_error(request: Request, err: ExpertuneError) -> Response:
        status = 403 if isinstance(err, security.Forbidden) else 404 if isinstance(err, NotFound) else \
            409 if isinstance(err, StaleEditError) else 400
        return render(request, "error.html", status_code=status, message=str(err))

    @app.get("/login")
    def login_page(request: Request):
        return render(request, "login.html", error=None)

    @app.post("/login")
    def login(request: Request, token_given: str = Form(..., alias="token")):
        if not token or not security.token_matches(token_given, token):
            return render(request, "login.html", status_code=403, error="That token is not right.")
        response = redirect("/")
        response.set_cookie(security.AUTH_COOKIE, security.auth_value(token), httponly=True, samesite="strict")
        return response

    @app.get("/me")
    def me_page(request: Request):
        return render(request, "me.html")

    @app.post("/me")
    def set_me(request: Request, name: str = Form(...)):
        response = redirect("/")
        response.set_cookie(security.USER_COOKIE, security.valid_name(name), samesite="strict", max_age=10 * 365 * 86400)
        return response

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (overview, author, review, checks, train, evaluate, human):
        app.include_router(module.router)
    return app
