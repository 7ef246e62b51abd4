"""Conditional GET: an ETag on the answer, and ``304 Not Modified`` when the client has it."""
from __future__ import annotations

from typing import Callable

from flask import Response, request


def conditional_response(etag: str, body: Callable[[], str], mimetype: str,
                         cache_control: str, weak: bool = False) -> Response:
    """``304`` without a body when the request's ``If-None-Match`` names ``etag``, else
    ``body()`` as ``mimetype``; both with the ``ETag`` (``etag`` quoted, ``W/`` when
    ``weak``) and ``Cache-Control`` headers. ``body`` is called only for a 200.

    RFC 9110 §13.1.2: If-None-Match uses the weak comparison (``W/"x"`` and ``"x"`` match
    each other), may list several tags separated by commas, and ``*`` matches any current
    answer. Tags are compared whole, never as substrings."""
    if request.if_none_match.contains_weak(etag):
        resp = Response(status=304)
    else:
        resp = Response(body(), mimetype=mimetype)
    resp.set_etag(etag, weak=weak)
    resp.headers["Cache-Control"] = cache_control
    return resp
