"""The notify service's composition root: settings in, wired runtime and routers out.

Each feature package exposes `install(ctx) -> Feature`; this is the one place that lists
them and wires their routes, outbox collections, set-up steps, consumers and background jobs.
"""

from __future__ import annotations

from functools import partial

from services.notify import email, inbox, preferences, push, stream
from services.notify.context import NotifyContext, NotifyOptions
from shared.backends import build_runtime, make_store
from shared.bus.metrics import BusMetrics
from shared.composition import ServiceParts
from shared.deactivation import Deactivations
from shared.events.schemas import activity as activity_events
from shared.events.schemas import profiles as profiles_events
from shared.http.idempotency import idempotent_route_class, prepare_idempotency
from shared.settings import CanteenSettings, dev_secret
from shared.store.port import DocumentStore

NAME = "notify"
TOPIC = "canteen.notify"
IDEMPOTENCY = "idempotency"
# email before inbox: /notifications/unsubscribe must win over /notifications/{id}.
FEATURES = (preferences, email, inbox, stream, push)


def context(settings: CanteenSettings, store: DocumentStore) -> NotifyContext:
    """What the features get from the settings (also for `canteen admin digests`)."""
    secret = settings.cursor_secret
    vapid = settings.vapid_private_key
    smtp_password = settings.smtp_password
    return NotifyContext(
        store=store,
        options=NotifyOptions(
            aggregation_window_seconds=settings.notify_aggregation_window_seconds,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_username=settings.smtp_username,
            smtp_password=smtp_password.get_secret_value() if smtp_password else None,
            smtp_starttls=settings.smtp_starttls,
            smtp_from=settings.mail_from,
            public_base_url=settings.public_base_url,
            vapid_private_key=vapid.get_secret_value() if vapid else None,
            vapid_subject=settings.vapid_subject,
            digest_hour=settings.digest_local_hour,
        ),
        # Signed links share the cursor secret's strength and rotation story.
        signing_secret=secret.get_secret_value() if secret else dev_secret(settings, "cursor"),
    )


def build(settings: CanteenSettings, bus_metrics: BusMetrics) -> ServiceParts:
    store = make_store(settings, NAME)
    idempotency = store.collection(IDEMPOTENCY)
    ctx = context(settings, store)
    ctx.route_class = idempotent_route_class(idempotency)
    features = [feature.install(ctx) for feature in FEATURES]
    deactivations = Deactivations(store)
    runtime = build_runtime(
        settings,
        NAME,
        bus_metrics,
        store=store,
        topics=[TOPIC, activity_events.TOPIC, profiles_events.TOPIC],
        outbox_collections=[c for f in features for c in f.outbox_collections],
        setup=[
            partial(prepare_idempotency, idempotency),
            *(step for f in features for step in f.setup),
        ],
        subscriptions=[
            *(s for f in features for s in f.subscriptions),
            deactivations.subscription(NAME),
        ],
        background=[job for f in features for job in f.background],
    )
    ctx.hand_off_outbox = runtime.hand_off_outbox
    return ServiceParts(
        runtime=runtime,
        routers=[r for f in features for r in f.routers],
        principal_gate=deactivations,
    )
