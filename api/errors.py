"""One error shape for every 4xx/5xx: ``{"code", "message", "field", "details"}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import LoginRequired, login_redirect
from api.error_texts import localise, request_lang, validation_message
from patrol.core.errors import GridPatrolError, TooManyAttempts


def error_body(code: str, message: str | None, field: str | None = None,
               details: list[str] | None = None) -> dict[str, object]:
    return {"code": code, "message": message, "field": field, "details": details or []}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GridPatrolError)
    async def _domain(request: Request, exc: GridPatrolError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
        lang = request_lang(request)
        return JSONResponse(error_body(exc.code, localise(exc.code, exc.message, exc.field, lang), exc.field,
                                       exc.details), status_code=exc.status_code, headers=headers)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> RedirectResponse:
        # the one place where a page without a login goes to /login (303: the browser follows with a GET)
        return RedirectResponse(login_redirect(exc.target), status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path", "header")]
        field = ".".join(loc) or None
        details = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in errors]
        message = validation_message(first, request_lang(request))
        return JSONResponse(error_body("invalid", message, field, details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        field = "body" if exc.status_code == 413 else None
        message = localise(code, str(exc.detail), field, request_lang(request))
        return JSONResponse(error_body(code, message, field), status_code=exc.status_code)
