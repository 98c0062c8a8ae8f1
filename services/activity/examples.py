"""Ids and people the activity routes' OpenAPI examples share, so they tell one story.

Ana (an admin) runs the Platform guild and posts about a cluster upgrade; Cy asks how to
rotate kube credentials; Ana answers, Bo votes, comments and reacts.
"""

from pydantic.config import JsonDict

GROUP_ID = "01a22cf2-6faf-71e0-a014-f52a10c07559"
NOTE_ID = "01a22cf2-6fde-7166-9d1b-635f54de2d9a"
QUESTION_ID = "01a22cf2-6fe6-71a8-a336-e67ce34221d0"
ANSWER_ID = "01a22cf2-6fef-7304-b7cc-099e80219eb7"
COMMENT_ID = "01a22cf2-7010-7241-bc46-d31bdf532a48"
ANA: JsonDict = {"id": "ana", "handle": "ana", "display_name": "Ana Lima", "avatar_url": None}
CY: JsonDict = {
    "id": "cy",
    "handle": "cy.okafor",
    "display_name": "Cy Okafor",
    "avatar_url": "https://intranet.example.com/avatars/cy.png",
}
