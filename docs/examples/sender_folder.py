"""Move mail from chosen senders into a folder: the plugin built in docs/writing-plugins.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from mailhost.app import App
from mailhost.config import doc
from mailhost.decisions import Deliver
from mailhost.hookspecs import hookimpl

NAME = "sender_folder"


@dataclass(frozen=True)
class Settings:
    senders: list[str] = doc("Addresses whose mail is filed away.", [])
    folder: str = doc("The folder their mail goes to (created when needed).", "Newsletters")


@hookimpl
def mailhost_settings_schema() -> Mapping[str, type]:
    return {NAME: Settings}


@hookimpl
def mailhost_delivery_decide(app: App, message: bytes) -> Deliver | None:
    settings: Settings = app.plugin_settings(NAME)
    headers = BytesHeaderParser().parsebytes(message)
    senders = {address.lower() for _name, address in getaddresses(headers.get_all("From", []))}
    if senders & {s.lower() for s in settings.senders}:
        return Deliver(folder=settings.folder)
    return None  # not ours to decide: the next plugin (or the INBOX default) decides
