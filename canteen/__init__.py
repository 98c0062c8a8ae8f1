"""What composes the four services: the `canteen` CLI and the all-in-one process.

It lives outside `services/` and `shared/` because it is the only code allowed to know
every service.
"""
