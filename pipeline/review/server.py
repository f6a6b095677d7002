"""The review server: a Starlette app (the page, its static files, the JSON API) run by uvicorn.

    GET  /api/stages                               stages with their funnel and review counts
    GET  /api/stages/{id}/records?kind=&q=&offset=&limit=   records with their decisions
         (also: source= lang= reason= op= model=, min.KEY= max.KEY=, decision=, sort=KEY, order=)
    GET  /api/stages/{id}/record/{record_id}?kind= one record
    GET  /api/stages/{id}/agreement                kappa per reviewer pair, reviewers vs the pipeline
    GET  /api/lookup/{record_id}                   the stages holding a record (provenance)
    POST /api/decisions                            {stage, record_id, action, reason?, messages?}
    POST /api/stages/{id}/bulk?<filter>            {action, reason?}: one decision per matching record
"""

from __future__ import annotations

import html
import signal
import socket
import sys
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.errors import ConfigError, UserError
from pipeline.report.agreement import stage_agreement, thresholds
from pipeline.review.query import parse_query
from pipeline.review.security import HEADERS, Guard
from pipeline.review.store import ReviewStore

STATIC = Path(__file__).parent / "static"
MAX_BODY = 4 << 20


class GuardMiddleware:
    """Applies the Guard to every request and the security headers to every answer."""

    def __init__(self, app: ASGIApp, guard: Guard):
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self.guard.check(Request(scope))
        if refusal is not None:
            refusal.headers.update(HEADERS)
            return await refusal(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode().lower() not in {h.lower() for h in HEADERS}]
                headers += [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(e: Exception, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": str(e)}, status_code=status)


class Handlers:
    """The page and the API endpoints over one ReviewStore."""

    def __init__(self, run_dir: Path, guard: Guard, reviewer: str, stage: str | None):
        self.store, self.guard, self.reviewer, self.stage = ReviewStore(run_dir), guard, reviewer, stage
        if stage:
            self.store.check_stage(stage)

    async def page(self, request: Request) -> Response:
        text = (STATIC / "index.html").read_text(encoding="utf-8")
        run = self.store.manifest.get("name") or self.store.root.name
        for key, value in (("CSRF", self.guard.csrf_token), ("REVIEWER", self.reviewer),
                           ("STAGE", self.stage or ""), ("RUN", run)):
            text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
        return HTMLResponse(text)

    async def stages(self, request: Request) -> Response:
        return JSONResponse({"run": self.store.manifest.get("name"), "stages": self.store.stages()})

    async def records(self, request: Request) -> Response:
        try:
            query = parse_query(request.query_params)
            offset = int(request.query_params.get("offset", 0))
            limit = int(request.query_params.get("limit", 50))
            return JSONResponse(self.store.records(request.path_params["sid"], query, offset, limit))
        except ValueError:
            return _error(ConfigError("offset/limit: expected integers"))
        except UserError as e:
            return _error(e)

    async def one(self, request: Request) -> Response:
        try:
            kind = request.query_params.get("kind", "kept")
            parse_query({"kind": kind})
            view = self.store.record(request.path_params["sid"], kind, request.path_params["rid"])
        except UserError as e:
            return _error(e)
        return JSONResponse(view) if view else _error(ConfigError("no such record"), 404)

    async def lookup(self, request: Request) -> Response:
        return JSONResponse({"found": self.store.lookup(request.path_params["rid"])})

    async def agreement(self, request: Request) -> Response:
        try:
            sid = self.store.check_stage(request.path_params["sid"])
        except UserError as e:
            return _error(e)
        log = self.store.log(sid)
        facts = self.store.facts(sid, log.record_ids())
        cuts = thresholds(self.store.manifest)
        return JSONResponse({"stage": sid, **stage_agreement(log.lines, facts, cuts)})

    async def decide(self, request: Request) -> Response:
        try:
            body = await _body(request)
            line = self.store.decide(body, str(body.get("reviewer") or self.reviewer))
        except UserError as e:
            return _error(e)
        return JSONResponse({"ok": True, "decision": line})

    async def bulk(self, request: Request) -> Response:
        try:
            body = await _body(request)
            query = parse_query(request.query_params)
            who = str(body.get("reviewer") or self.reviewer)
            n = self.store.decide_bulk(request.path_params["sid"], query, body, who)
        except UserError as e:
            return _error(e)
        return JSONResponse({"ok": True, "decided": n})


async def _body(request: Request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ConfigError("body too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ConfigError(f"body: invalid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ConfigError("body: expected a JSON object")
    return body


def build_app(run_dir: Path, guard: Guard, reviewer: str, stage: str | None = None) -> Starlette:
    h = Handlers(run_dir, guard, reviewer, stage)
    routes = [
        Route("/", h.page), Route("/api/stages", h.stages),
        Route("/api/stages/{sid}/records", h.records), Route("/api/stages/{sid}/record/{rid}", h.one),
        Route("/api/stages/{sid}/agreement", h.agreement), Route("/api/lookup/{rid}", h.lookup),
        Route("/api/decisions", h.decide, methods=["POST"]),
        Route("/api/stages/{sid}/bulk", h.bulk, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, guard=guard)])


def serve(run_dir: Path, host: str = "127.0.0.1", port: int = 0, reviewer: str = "reviewer",
          stage: str | None = None, open_browser: bool = False) -> None:
    """Bind, print the URL (with the token on a non-loopback bind), serve until interrupted."""
    import uvicorn

    guard = Guard.for_bind(host)
    app = build_app(run_dir, guard, reviewer, stage)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        raise ConfigError(f"--host/--port: cannot bind {host}:{port}: {e.strerror}") from None
    sock.listen(128)  # connections wait in the backlog from now on, before uvicorn takes over
    guard.port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{guard.port}/"
    if guard.access_token:
        url += f"?token={guard.access_token}"
    print(f"review: serving {run_dir} at {url}", flush=True)
    if guard.access_token:
        print("review: the token in this URL is required on this bind; share it only with reviewers",
              file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    # uvicorn shuts down on Ctrl-C/SIGTERM, then re-raises the signal: end quietly, with status 0
    # (the run command's "resume" message would be wrong here: every decision is already on disk)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped)
    uvicorn.Server(config).run(sockets=[sock])


def _stopped(signum, frame) -> None:
    print("review: stopped", file=sys.stderr, flush=True)
    raise SystemExit(0)
