"""Who a workbook belongs to: a new file or a backup keeps its owner, group, mode and access
list, or the workbook is rewritten in place so that it stays its owner's."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from ...errors import OptionError, RefusedOptionError

ACL_XATTR = "system.posix_acl_access"


def _name(number: int, lookup: str) -> str:
    import grp
    import pwd

    try:
        if lookup == "user":
            return pwd.getpwuid(number).pw_name
        return grp.getgrgid(number).gr_name
    except (KeyError, OverflowError):
        return str(number)


class OwnerNotKept(RefusedOptionError):
    """A new file could not be given the workbook's owner, group or access list."""

    def __init__(self, template: str) -> None:
        super().__init__("output", template)


def who(original: os.stat_result) -> str:
    """The file's owner and group, by name and number: ``alice:team (1001:2001)``."""
    owner, group = _name(original.st_uid, "user"), _name(original.st_gid, "group")
    names = f"{owner}:{group}"
    if names != f"{original.st_uid}:{original.st_gid}":
        names += f" ({original.st_uid}:{original.st_gid})"
    return names


def me() -> str:
    """The user caseloop runs as, by name."""
    return _name(os.geteuid(), "user") if hasattr(os, "geteuid") else "you"


def rename_keeps_owner(original: os.stat_result) -> bool:
    """Whether a new file made by this process can be given the workbook's owner and group."""
    if not hasattr(os, "geteuid"):
        return True  # Windows: a new file there is not given away to its maker this way
    euid = os.geteuid()
    if euid == 0:
        return True  # root may chown (where it may not, a squashed share, chown says so)
    if original.st_uid != euid:
        return False  # only root may give a file to another user
    return original.st_gid == os.getegid() or original.st_gid in os.getgroups()


def keep_ownership(
    new: Path, target: Path, original: os.stat_result, *, strict: bool = True
) -> None:
    """Give ``new`` the owner, group, mode and access list of the file it will replace.

    A file owned by the team's group must stay the team's: a new file would belong to whoever
    ran caseloop, and the rest of the team could no longer open its own log. ``strict=False``
    (a backup made by another member of the team) keeps what may be kept: the group when the
    member is in it, the mode and the access list.
    """
    mine = os.stat(new)
    uid = original.st_uid if mine.st_uid != original.st_uid else -1
    gid = original.st_gid if mine.st_gid != original.st_gid else -1
    if (uid, gid) != (-1, -1):
        try:
            os.chown(new, uid, gid)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES, errno.EINVAL):
                raise
            if strict:
                owner = _name(original.st_uid, "user")
                group = _name(original.st_gid, "group")
                raise OwnerNotKept(
                    f"{target} belongs to {who(original)} and caseloop, running as {me()}, "
                    f"cannot give the new version that owner and group; run caseloop as {owner} "
                    f"(in group {group}), or write a copy with {{option}}; the workbook was left "
                    "as it was."
                ) from None
            with contextlib.suppress(OSError):
                os.chown(new, -1, gid)
    acl = None
    with contextlib.suppress(OSError, AttributeError):
        acl = os.getxattr(target, ACL_XATTR)
    if acl:
        try:
            os.setxattr(new, ACL_XATTR, acl)
        except OSError:
            if strict:
                raise OwnerNotKept(
                    f"caseloop cannot give the new version of {target} the access list (ACL) "
                    "the file has now; the workbook was left as it was."
                ) from None
    # After chown (which may clear set-id bits); with an ACL, the group bits are its mask.
    os.chmod(new, original.st_mode & 0o7777)


def not_yours(target: Path, stat: os.stat_result) -> OptionError:
    """The file may be written by others (its owner, its group) but not by this user."""
    return OptionError(
        "output",
        f"Cannot write {target}: it belongs to {who(stat)} with mode {stat.st_mode & 0o777:04o} "
        f"and {me()} may not write to it; run caseloop as a user who may, or write a copy with "
        "{option}; the workbook was left as it was.",
    )
