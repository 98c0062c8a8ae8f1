"""The event catalog: importing this package registers every event type in `registry`.

One module per producing service. Each model is a published contract: change it only by
adding optional fields, or publish a new `.v<N+1>` type beside it.
"""

from shared.events.schemas import activity, profiles
from shared.events.schemas import notify as notify
from shared.events.schemas import profiles_expertise as profiles_expertise

__all__ = ["activity", "profiles"]
