"""Activity: posts, questions and answers, resources, comments, reactions, follows, groups, feeds.

Read top-down: `routes.py` (HTTP, thin) -> `domain/` (rules, no I/O) -> `repository.py`
(persistence through the DocumentStore port) -> `handlers.py` (events it consumes) ->
`bootstrap.py` (the composition root).
"""
