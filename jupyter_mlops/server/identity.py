"""Who a REST request acts as: the user Jupyter's identity provider names, else the server's owner.

jupyter_server's default identity providers (``IdentityProvider``, ``PasswordIdentityProvider``,
``LegacyIdentityProvider``) do not know who logs in with the server's token or password: they
hand every browser profile a random anonymous user (``a5365c24...``, "Anonymous Io"). Recording an
approval under such an id says nothing, and a notebook on the same server acts as its OS user, so
one screen would show two identities. So:

- under JupyterHub (its ``JupyterHubIdentityProvider``), the request acts as the hub user
  (source ``jupyterhub``);
- under any other provider that names users (a custom ``IdentityProvider`` subclass), as that
  user (source ``identity-provider``);
- under a default provider, or whenever the user is the provider's generated anonymous one, as
  the owner of the single-user server: ``JUPYTER_MLOPS_USER``, else the OS user, exactly what a
  kernel of this server resolves (source ``server-owner``).

The client never names the identity; it only comes from the provider or the server's settings.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["request_identity"]

_ANONYMOUS_ID = re.compile(r"[0-9a-f]{32}")


def _default_providers() -> tuple[type, ...]:
    from jupyter_server.auth.identity import IdentityProvider, LegacyIdentityProvider, PasswordIdentityProvider

    return (IdentityProvider, PasswordIdentityProvider, LegacyIdentityProvider)


def _is_generated_anonymous(provider: Any, user: Any) -> bool:
    """Whether ``user`` is the random user jupyter_server's base provider generates for a shared token."""
    from jupyter_server.auth.identity import IdentityProvider

    generator = getattr(type(provider), "generate_anonymous_user", None)
    name = str(getattr(user, "name", "") or "")
    username = str(getattr(user, "username", "") or "")
    return (
        generator is IdentityProvider.generate_anonymous_user
        and name.startswith("Anonymous ")
        and bool(_ANONYMOUS_ID.fullmatch(username))
    )


def request_identity(provider: Any, user: Any, owner: str) -> tuple[str, str]:
    """``(name, source)`` a request acts as, given the server's identity provider and current user.

    Parameters
    ----------
    provider:
        The server's ``IdentityProvider`` (``handler.identity_provider``).
    user:
        The request's authenticated user (``handler.current_user``), already checked to exist.
    owner:
        The server owner's identity (the workspace's ``JUPYTER_MLOPS_USER`` or OS user).
    """
    if type(provider) in _default_providers() or _is_generated_anonymous(provider, user):
        return owner, "server-owner"
    name = getattr(user, "username", None) or (user if isinstance(user, str) else None)
    if not name:
        return owner, "server-owner"
    module = type(provider).__module__ or ""
    return str(name), "jupyterhub" if module.split(".")[0] == "jupyterhub" else "identity-provider"
