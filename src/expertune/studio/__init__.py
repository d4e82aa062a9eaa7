"""The studio: a local web app over the library for domain experts who do not use a terminal.

Every page calls the same library functions as the CLI (store/repo, curate/, data/, train/); the
modules here only turn requests into those calls and their results into HTML. `create_app` builds
the FastAPI app for one workspace; `serve` runs it with uvicorn.
"""

from expertune.studio.app import create_app
from expertune.studio.server import serve

__all__ = ["create_app", "serve"]
