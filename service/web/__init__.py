"""The manager's dashboard: server-rendered HTML at `/`, behind a session made from a read key."""

from service.web.routes import MAX_FORM_BYTES
from service.web.routes import install as install_dashboard

__all__ = ["MAX_FORM_BYTES", "install_dashboard"]
