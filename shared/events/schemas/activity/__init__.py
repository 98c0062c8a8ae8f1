"""Events the activity service publishes on the `canteen.activity` topic.

One module per aggregate family: posts (posts, answers, votes), discussion (comments,
reactions), social (follows, groups, memberships). Every payload carries what consumers
need without calling back — in particular the audience (`org` or a group) and the group's
visibility, so that no consumer ever shows private-group content to a non-member.
"""

from shared.events.schemas.activity import discussion, posts, social
from shared.events.schemas.activity.base import SOURCE, TOPIC, ActivityEvent
from shared.events.schemas.activity.posts import PostCreated, PostDeleted, PostUpdated

__all__ = [
    "SOURCE",
    "TOPIC",
    "ActivityEvent",
    "PostCreated",
    "PostDeleted",
    "PostUpdated",
    "discussion",
    "posts",
    "social",
]
