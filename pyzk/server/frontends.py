"""HTTP front ends started beside the client port: the AdminServer and the Prometheus endpoint.

Both read the same LiveView the four-letter words use (one command table, pyzk.fourlw).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from ..config.model import Config
from ..fourlw.admin import AdminServer
from ..metrics import ServerMetrics, exporter_from_config

if TYPE_CHECKING:
    from .view import LiveView

log = structlog.get_logger("pyzk.frontends")


class Stoppable:
    def __init__(self, stop: Callable[[], object]) -> None:
        self._stop = stop

    async def stop(self) -> None:
        result = self._stop()
        if asyncio.iscoroutine(result):
            await result


async def start_admin_server(cfg: Config, view: LiveView) -> Stoppable | None:
    if not cfg.admin_enable_server:
        return None
    tls = None
    if cfg.admin_force_https or cfg.admin_port_unification:
        from .tls import TlsError, build_admin_context

        try:
            if cfg.admin_tls is None:
                raise TlsError("ssl.quorum.keyStore.location is not set")
            tls = build_admin_context(cfg.admin_tls)
        except TlsError as e:
            # AdminServerFactory: the JettyAdminServer constructor failed; the server runs on
            # without an AdminServer.
            log.error("Failed to load authentication certificates for admin server.",
                      error=str(e))
            log.warning("Unable to start JettyAdminServer")
            return None
    admin = AdminServer(lambda: view, cfg.admin_server_address, cfg.admin_server_port,
                        cfg.admin_command_url, cfg.admin_idle_timeout_ms, tls,
                        cfg.admin_force_https)
    try:
        await admin.start()
    except OSError as e:
        # Java logs the failure and keeps serving clients without the AdminServer.
        log.error("AdminServer failed to start", address=cfg.admin_server_address,
                  port=cfg.admin_server_port, error=str(e))
        return None
    log.info("AdminServer started", address=cfg.admin_server_address, port=admin.port,
             url=cfg.admin_command_url)
    return Stoppable(admin.stop)


async def start_metrics_server(cfg: Config, view: LiveView) -> Stoppable | None:
    # The server's own ServerMetrics (fed by its ServerStats hooks since startup): the exporter
    # reads the same objects mntr and the AdminServer `monitor` dump.
    metrics: ServerMetrics = view.server.stats.metrics
    view.metrics = metrics
    view.server.metrics = metrics
    whole = None
    if view.gatherer is not None:  # pyzk.workers: every process's part

        def forget() -> None:
            view.remote = ()

        whole = (view.gather, lambda: view.metrics or metrics, forget)
    exporter = exporter_from_config(cfg.raw, metrics, lambda: view.monitor_gauges,
                                    asyncio.get_running_loop(), lambda: view.gauge_sets, whole)
    if exporter is None:
        return None
    try:
        exporter.start()
    except OSError as e:
        log.error("Prometheus endpoint failed to start", host=exporter.host, port=exporter.port,
                  error=str(e))
        return None
    log.info("Prometheus metrics endpoint started", host=exporter.host, port=exporter.port)
    return Stoppable(exporter.stop)
