"""OpenAPI examples of the Web Push device routes."""

from pydantic.config import JsonDict

ENDPOINT = "https://fcm.googleapis.com/fcm/send/dX8fK2mQ9sY:APA91bH4qLw7Zr0T"
DEVICE_IN: JsonDict = {
    "endpoint": ENDPOINT,
    "keys": {
        "p256dh": (
            "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
        ),
        "auth": "tBHItJI5svbpez7KI4CCXg",
    },
    "expirationTime": None,
    "user_agent": "Firefox 133 on Android",
}
DEVICE: JsonDict = {
    "id": "01a22cf2-7b20-7d31-9e4f-5a6b7c8d9e0f",
    "endpoint": ENDPOINT,
    "user_agent": "Firefox 133 on Android",
    "created_at": "2026-11-30T14:53:36.500000Z",
    "last_success_at": "2026-11-30T15:02:11.000000Z",
}
VAPID_KEY: JsonDict = {
    "public_key": (
        "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U"
    )
}
