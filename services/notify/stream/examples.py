"""OpenAPI examples of the realtime stream routes."""

from pydantic.config import JsonDict

STREAM_TOKEN: JsonDict = {
    "token": (
        "eyJzdWIiOiJhbmEiLCJyb2xlcyI6W10sImV4cCI6MTc5Njc0NTY2MH0.Zk3x9Q2bTqg1XvA8mJc0pN7rYs4aWl0Z"
    ),
    "expires_in": 60,
}
EVENTS = (
    "retry: 3000\n\n"
    "id: 42\nevent: notification\n"
    'data: {"id":"01a22cf2-7a01-7c11-8a2e-3f5b9d0c1e42","type":"answer.created",'
    '"actor_id":"ana","target":{"type":"question","id":"01a22cf2-6fe6-71a8-a336-e67ce34221d0"},'
    '"group_id":"01a22cf2-7a01-7c11-8a2e-3f5b9d0c1e40","title":"New answer to your question",'
    '"summary":"ana answered your question","link":"/posts/01a22cf2-6fe6-71a8-a336-e67ce34221d0",'
    '"critical":false,"created_at":"2026-11-30T14:53:35.700000Z","seq":42}\n\n'
    'event: unread\ndata: {"unread":3}\n\n'
)
TOO_MANY: JsonDict = {
    "type": "urn:canteen:problem:too-many-streams",
    "title": "Too Many Requests",
    "status": 429,
    "detail": "at most 10 open streams per person; close one",
    "request_id": "64f1fe4379cdfc2b96cde3a862aff778",
}
