"""Events the profiles service publishes on the `canteen.profiles` topic.

The event models arrive with the profiles service; the topic is part of the contract now so
that consumers (search, notify) subscribe to it from the start.
"""

TOPIC = "canteen.profiles"
SOURCE = "/canteen/profiles"
