"""Email: immediate messages and daily/weekly digests over SMTP, one-click unsubscribe.

Read: `intake.py` (new notifications -> `decide` -> queued mail), `digest.py` (what a
digest holds and when), `outbox.py` + `sender.py` (the durable queue and the SMTP worker),
`compose.py` + `templates/` (MIME from Jinja2), `unsubscribe.py` + `routes.py` (RFC 8058),
`projections.py` (topics, posts and expertise kept from events for the digest).
"""

from __future__ import annotations

from services.notify.context import Feature, NotifyContext
from services.notify.email.compose import Composer
from services.notify.email.digest import DigestScheduler
from services.notify.email.intake import ImmediateIntake
from services.notify.email.outbox import EmailOutbox
from services.notify.email.projections import DigestProjections, build_dispatcher
from services.notify.email.routes import build_router
from services.notify.email.sender import SendWorker, SmtpMailer
from services.notify.email.unsubscribe import Unsubscriber
from services.notify.preferences.repository import PreferenceRepository
from shared.events.schemas import activity as activity_events
from shared.events.schemas import profiles as profiles_events
from shared.service import Subscription

GROUP = "notify.email"


def install(ctx: NotifyContext) -> Feature:
    opts = ctx.options
    composer = composer_for(ctx)
    outbox = EmailOutbox(ctx.store)
    prefs = PreferenceRepository(ctx.store)
    projections = DigestProjections(ctx.store)
    intake = ImmediateIntake(ctx.store, outbox, prefs, composer)
    dispatcher = build_dispatcher(projections, prefs, intake.address_known)
    digests = digests_for(ctx)
    worker = SendWorker(
        outbox,
        SmtpMailer(
            opts.smtp_host,
            opts.smtp_port,
            username=opts.smtp_username,
            password=opts.smtp_password,
            start_tls=opts.smtp_starttls,
        ),
    )
    return Feature(
        routers=[build_router(Unsubscriber(ctx.store, ctx.signing_secret), composer)],
        setup=[outbox.prepare, projections.prepare, intake.prepare, digests.prepare],
        subscriptions=[
            Subscription(
                group=GROUP,
                topics=[activity_events.TOPIC, profiles_events.TOPIC],
                handler=dispatcher,
                batch_handler=dispatcher.handle_batch,
            )
        ],
        background=[intake.run, digests.run, worker.run],
    )


def composer_for(ctx: NotifyContext) -> Composer:
    opts = ctx.options
    return Composer(base_url=opts.public_base_url, sender=opts.smtp_from, secret=ctx.signing_secret)


def digests_for(ctx: NotifyContext) -> DigestScheduler:
    """The digest scheduler as the service runs it (`canteen admin digests send` uses it)."""
    return DigestScheduler(
        ctx.store,
        EmailOutbox(ctx.store),
        PreferenceRepository(ctx.store),
        DigestProjections(ctx.store),
        composer_for(ctx),
        hour=ctx.options.digest_hour,
        base_url=ctx.options.public_base_url,
    )
