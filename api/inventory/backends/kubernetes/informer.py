"""The watch-backed pod cache: list once, then watch, per scope (like client-go's informers)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from .trim import trim_pod

log = logging.getLogger("inventory.kubernetes")

ERRORS = (ApiException, HTTPError, OSError, ValueError)
PAGE_SIZE = 500
WATCH_TIMEOUT_SECONDS = 240  # server closes the watch after this; we re-watch from the last resourceVersion
MAX_BACKOFF_SECONDS = 10.0


class PodInformer:
    """List once, then watch, for one scope (a namespace, or all namespaces when ``namespace`` is None)."""

    def __init__(
        self, api: client.CoreV1Api, namespace: str | None, timeout: float, on_change: Callable[[], None] | None = None
    ) -> None:
        self._api = api
        self._on_change = on_change or (lambda: None)
        self._namespace = namespace
        self._timeout = timeout
        self._pods: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.synced = threading.Event()
        self.healthy = False
        self.error = "not synced yet"
        self._stop = threading.Event()
        self._resp: Any = None
        self._thread = threading.Thread(target=self._run, name=f"pod-informer-{namespace or 'all'}", daemon=True)
        self.resource_version = ""
        self.generation = 0  # bumped on every change so the backend knows when to rebuild its id index
        self.lists = 0  # how many full lists this informer made (1 + one per 410 Gone / reconnect)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        # Shut the socket down (not close(): that would wait on the reader's lock) to unblock a waiting watch.
        sock = getattr(getattr(self._resp, "connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pods(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._pods.values())

    def _list_call(self) -> Callable[..., Any]:
        if self._namespace is None:
            return self._api.list_pod_for_all_namespaces
        namespace = self._namespace
        return lambda **kw: self._api.list_namespaced_pod(namespace, **kw)

    def _relist(self) -> None:
        pods: dict[str, dict[str, Any]] = {}
        cont = None
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE_SIZE, "_preload_content": False, "_request_timeout": self._timeout}
            if cont:
                kwargs["_continue"] = cont
            resp = self._list_call()(**kwargs)
            body = json.loads(resp.data)
            for item in body.get("items") or []:
                trimmed = trim_pod(item)
                pods[trimmed["metadata"].get("uid", "")] = trimmed
            cont = (body.get("metadata") or {}).get("continue")
            if not cont:
                self.resource_version = (body.get("metadata") or {}).get("resourceVersion", "")
                break
        with self._lock:
            self._pods = pods
            self.generation += 1
        self.lists += 1
        self._on_change()

    def _apply(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
            trimmed = trim_pod(obj)
            uid = trimmed["metadata"].get("uid", "")
            with self._lock:
                if event["type"] == "DELETED":
                    self._pods.pop(uid, None)
                else:
                    self._pods[uid] = trimmed
                self.generation += 1
            self._on_change()
        if rv:
            self.resource_version = rv

    def _watch_once(self) -> None:
        """One watch request, read line by line as raw JSON (no model deserialisation: we keep dicts)."""
        kwargs: dict[str, Any] = {
            "watch": True,
            "resource_version": self.resource_version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": WATCH_TIMEOUT_SECONDS,
            "_request_timeout": (self._timeout, WATCH_TIMEOUT_SECONDS + 30),
            "_preload_content": False,
        }
        resp = self._list_call()(**kwargs)
        self._resp = resp
        try:
            for line in watch.watch.iter_resp_lines(resp):
                if self._stop.is_set():
                    break
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":  # a Status object, e.g. 410 Expired
                    obj = event.get("object") or {}
                    raise ApiException(status=int(obj.get("code") or 500), reason=str(obj.get("reason", "")))
                self._apply(event)
        finally:
            self._resp = None
            resp.release_conn()

    def _run(self) -> None:
        backoff = 0.2
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                    self.healthy, self.error = True, ""
                    self.synced.set()
                    self._on_change()
                self._watch_once()
                backoff = 0.2
            except ApiException as exc:
                if exc.status == 410:  # our resourceVersion is too old: start over from a fresh list
                    log.info("pod watch expired (410 Gone), relisting", extra={"namespace": self._namespace or "*"})
                    need_list = True
                    continue
                self._failed(f"kubernetes API error {exc.status}")
                need_list = True
            except ERRORS as exc:
                self._failed(f"kubernetes API unreachable: {exc.__class__.__name__}")
                need_list = True
            except Exception as exc:
                log.exception("pod informer crashed, resyncing")
                self._failed(f"kubernetes pod cache error: {exc.__class__.__name__}")
                need_list = True
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _failed(self, reason: str) -> None:
        if self._stop.is_set():
            return  # closing: the connection was shut down on purpose
        if self.healthy or self.error != reason:
            log.warning("pod informer failed", extra={"namespace": self._namespace or "*", "reason": reason})
        self.healthy, self.error = False, reason
        self._on_change()
