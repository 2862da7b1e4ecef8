"""The built-in default answers to decide-hooks, as ``trylast`` implementations.

Keeping the defaults as ordinary plugins means an enabled plugin overrides them just by
answering first, and ``mailhost plugins`` shows exactly what the server will do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailhost.decisions import AuthOutcome, Deliver, DeliveryDecision
from mailhost.hookspecs import hookimpl

if TYPE_CHECKING:
    from mailhost.app import App


@hookimpl(trylast=True)
async def mailhost_authenticate(
    app: App, username: str, password: str, protocol: str, peer: str
) -> AuthOutcome | None:
    """Check the password against the SQLite user table."""
    return await app.authenticator.verify_local(username, password)


@hookimpl(trylast=True)
def mailhost_delivery_decide(
    app: App, recipient: str, address: str, sender: str, message: bytes, protocol: str
) -> DeliveryDecision:
    """Classic behaviour: everything for a local user goes to their INBOX."""
    return Deliver("INBOX")
