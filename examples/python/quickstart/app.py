"""Seed 000's Quick Start as a Berth plugin (`berth build examples/python`)."""

from berth import get


@get("/hello")
def hello(req):
    return {"body": {"message": "Hello, World!"}}
