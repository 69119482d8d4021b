"""``chainrule serve``: a local page to draw a digit and watch the network respond.

The app is :func:`chainrule.serve.app.create_app` (Starlette, served by uvicorn); the page is
plain HTML, JS and CSS in ``static/``.
"""
