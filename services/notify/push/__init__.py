"""Web Push (RFC 8030/8291/8292) to registered devices, behind a push-provider port.

Read: `routes.py` (devices), `subscriptions.py` (what a valid subscription is),
`delivery.py` (notifications -> `decide` -> queue -> devices), `provider.py` (the port)
and `webpush.py` (its Web Push adapter), `repository.py` (`devices`, `push_queue`).
Without a VAPID private key push is off: devices can still be registered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog

from services.notify.context import Feature, NotifyContext
from services.notify.preferences.repository import PreferenceRepository
from services.notify.push.delivery import PushDelivery
from services.notify.push.repository import DeviceRepository, PushQueue
from services.notify.push.routes import build_router
from services.notify.push.subscriptions import is_loopback
from services.notify.push.webpush import WebPushProvider

log = structlog.get_logger()


def install(ctx: NotifyContext) -> Feature:
    opts = ctx.options
    devices = DeviceRepository(ctx.store)
    # Plain-http push endpoints only where the server itself runs on loopback (dev, tests).
    dev = is_loopback(urlsplit(opts.public_base_url).hostname or "")
    feature = Feature(setup=[devices.prepare])
    provider = None
    if opts.vapid_private_key:
        provider = WebPushProvider(opts.vapid_private_key, opts.vapid_subject, allow_loopback=dev)
        queue = PushQueue(ctx.store)
        delivery = PushDelivery(
            ctx.store,
            devices,
            queue,
            PreferenceRepository(ctx.store),
            provider,
            base_url=opts.public_base_url,
        )
        feature.setup += [queue.prepare, delivery.prepare]
        feature.background.append(delivery.run)
    else:
        log.info("notify.push.disabled", reason="no VAPID private key")
    feature.routers.append(
        build_router(
            devices,
            provider.public_key if provider else None,
            allow_loopback_http=dev,
            route_class=ctx.route_class,
        )
    )
    return feature
